package connectors

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden payload files")

func sampleSummary() ImpactSummary {
	return ImpactSummary{
		DeliveryID: "delivery-6f3a7c1e-0000-4000-8000-000000000001", TenantID: "acme", TenantName: "Acme & Co",
		PeriodStart: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), PeriodEnd: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC),
		Currency: "USD",
		Programs: []ProgramImpact{
			{Code: "mentoring", Name: "Mentoring", VolunteerHours: 412.5, Donations: 0, Participants: 38, Outcomes: 21, OutcomeScore: 3.75},
			{Code: "food-bank", Name: "Food <Bank>", VolunteerHours: 96, Donations: 12500.25, Participants: 12, Outcomes: 0},
		},
	}
}

func TestMapGolden(t *testing.T) {
	empty := sampleSummary()
	empty.Programs = nil
	cases := []struct {
		name     string
		partner  Partner
		protocol string
		in       ImpactSummary
	}{
		{"benevity", Benevity, "", sampleSummary()},
		{"benevity_empty", Benevity, "", empty},
		{"goodera", Goodera, "", sampleSummary()},
		{"goodera_empty", Goodera, "", empty},
		{"workday_rest", Workday, ProtocolREST, sampleSummary()},
		{"workday_soap", Workday, ProtocolSOAP, sampleSummary()},
		{"workday_soap_empty", Workday, ProtocolSOAP, empty},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Map(tc.partner, tc.protocol, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			ext := ".json"
			if tc.protocol == ProtocolSOAP {
				ext = ".xml"
			}
			path := filepath.Join("testdata", tc.name+ext)
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(append(got, '\n'), want) {
				t.Errorf("payload differs from %s:\n%s", path, got)
			}
			again, _ := Map(tc.partner, tc.protocol, tc.in)
			if !bytes.Equal(got, again) {
				t.Error("mapping is not deterministic")
			}
		})
	}
	if _, err := Map("nope", "", sampleSummary()); err == nil {
		t.Error("unknown partner mapped")
	}
}

func TestCredentialsValidate(t *testing.T) {
	cases := []struct {
		partner Partner
		c       Credentials
		field   string
	}{
		{Benevity, Credentials{AccountID: "a", SigningSecret: "s"}, ""},
		{Benevity, Credentials{AccountID: "a"}, "signing_secret"},
		{Goodera, Credentials{ClientID: "c", ClientSecret: "s"}, ""},
		{Goodera, Credentials{ClientID: "c"}, "client_secret"},
		{Workday, Credentials{Protocol: "soap", WorkdayTenant: "t", Username: "u", Password: "p"}, ""},
		{Workday, Credentials{Protocol: "soap", WorkdayTenant: "t", Username: "u"}, "password"},
		{Workday, Credentials{Protocol: "rest", WorkdayTenant: "t", ClientID: "c", ClientSecret: "s"}, ""},
		{Workday, Credentials{Protocol: "ftp"}, "protocol"},
	}
	for _, tc := range cases {
		field, err := tc.c.Validate(tc.partner)
		if field != tc.field || (err == nil) != (tc.field == "") {
			t.Errorf("%s %s: field %q err %v, want field %q", tc.partner, tc.c.Protocol, field, err, tc.field)
		}
	}
	if s := (Credentials{SigningSecret: "hunter2"}); bytes.Contains([]byte(s.String()+s.GoString()), []byte("hunter2")) {
		t.Error("credentials print their secret")
	}
}
