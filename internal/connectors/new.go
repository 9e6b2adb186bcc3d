package connectors

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// New returns the partner's sender for these credentials. baseURL is the platform's URL for
// the partner.
func New(p Partner, c Credentials, baseURL string, hc *http.Client) (Sender, error) {
	baseURL = strings.TrimRight(baseURL, "/")
	if baseURL == "" {
		return nil, fmt.Errorf("no URL is configured for %s", p)
	}
	if field, err := c.Validate(p); err != nil {
		return nil, fmt.Errorf("credentials (%s): %w", field, err)
	}
	switch p {
	case Benevity:
		return &BenevityClient{BaseURL: baseURL, AccountID: c.AccountID, Secret: c.SigningSecret, HTTP: hc}, nil
	case Goodera:
		return NewOAuthClient(Goodera, baseURL+"/api/v1/impact-data", baseURL+"/oauth/token", c.ClientID, c.ClientSecret, hc), nil
	case Workday:
		t := url.PathEscape(c.WorkdayTenant)
		if c.Protocol == ProtocolSOAP {
			return &WorkdaySOAPClient{Endpoint: baseURL + "/ccx/service/" + t + "/Impact_Reporting/v1", Username: c.Username, Password: c.Password, HTTP: hc}, nil
		}
		return NewOAuthClient(Workday, baseURL+"/ccx/api/impact/v1/"+t+"/impactData", baseURL+"/ccx/oauth2/"+t+"/token", c.ClientID, c.ClientSecret, hc), nil
	}
	return nil, fmt.Errorf("unknown partner %q", p)
}
