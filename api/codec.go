package api

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/impactflow/impactflow/internal/secrets"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal/codec"
)

// CodecConfig configures Temporal's remote codec protocol at /codec, through which the
// Temporal UI (and the CLI's --codec-endpoint) show an operator their tenant's payloads
// decoded.
type CodecConfig struct {
	// Keys are the payload data keys (nil: the codec routes answer 503).
	Keys codec.Keys
	// Namespace is the Temporal namespace the platform runs in; a request naming another
	// in X-Namespace is refused.
	Namespace string
	// AllowedOrigins are the browser origins allowed to call with credentials (CORS).
	AllowedOrigins []string
}

// codecSessionCookie holds an operator's codec session: the Temporal UI calls the codec from
// the browser and cannot send a Bearer key of ours, but it sends this same-site cookie.
const codecSessionCookie = "impactflow_codec_session"

// codecSessionTTL is how long a sign-in lasts: long enough to read histories, short enough
// that a forgotten browser does not keep the door open.
const codecSessionTTL = time.Hour

// codecSessionAD binds a sealed session to its purpose: no other sealed value opens as one.
var codecSessionAD = []byte("codec-session")

type codecSession struct {
	KeyHash string `json:"h"` // hex of the API key's hash, never the key
	Expires int64  `json:"exp"`
}

func (s *Server) sealSession(hash []byte, now time.Time) string {
	b, _ := json.Marshal(codecSession{KeyHash: hex.EncodeToString(hash), Expires: now.Add(codecSessionTTL).Unix()})
	sealed := s.secretBox.Seal(b, codecSessionAD)
	return base64.RawURLEncoding.EncodeToString([]byte(sealed.KeyID)) + "." + base64.RawURLEncoding.EncodeToString(sealed.Ciphertext)
}

// openSession returns the key hash of a valid, unexpired session cookie.
func (s *Server) openSession(v string, now time.Time) ([]byte, bool) {
	if s.secretBox == nil {
		return nil, false
	}
	id, ct, ok := strings.Cut(v, ".")
	keyID, err1 := base64.RawURLEncoding.DecodeString(id)
	raw, err2 := base64.RawURLEncoding.DecodeString(ct)
	if !ok || err1 != nil || err2 != nil {
		return nil, false
	}
	b, err := s.secretBox.Open(secrets.Sealed{KeyID: string(keyID), Ciphertext: raw}, codecSessionAD)
	if err != nil {
		return nil, false
	}
	var sess codecSession
	if json.Unmarshal(b, &sess) != nil || now.Unix() >= sess.Expires {
		return nil, false
	}
	hash, err := hex.DecodeString(sess.KeyHash)
	return hash, err == nil
}

// codecCORS lets the Temporal UI's origin call the codec with credentials, and answers its
// preflights. Requests from other origins get no CORS headers, so browsers keep their
// answers from the page.
func (s *Server) codecCORS() gin.HandlerFunc {
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if origin != "" && s.codecOrigins[origin] {
			h := c.Writer.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Add("Vary", "Origin")
			if c.Request.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
				h.Set("Access-Control-Max-Age", "600")
			}
		}
		c.Next()
	}
}

// codecPreflight answers a CORS preflight; codecCORS has set the headers when allowed.
func (s *Server) codecPreflight(c *gin.Context) { c.Status(http.StatusNoContent) }

// authenticateCodec admits a Bearer key, or the session cookie from a browser page of an
// allowed origin (a page of any other origin cannot use it, even same-site).
func (s *Server) authenticateCodec() gin.HandlerFunc {
	return func(c *gin.Context) {
		if secret, ok := bearerKey(c); ok {
			if s.admit(c, store.HashKey(secret)) {
				c.Next()
			}
			return
		}
		cookie, err := c.Cookie(codecSessionCookie)
		if err == nil {
			if origin := c.GetHeader("Origin"); origin != "" && !s.codecOrigins[origin] {
				s.fail(c, &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: "the codec session may not be used from origin " + origin})
				return
			}
			if hash, ok := s.openSession(cookie, time.Now()); ok {
				if s.admit(c, hash) {
					c.Next()
				}
				return
			}
		}
		c.Header("WWW-Authenticate", `Bearer realm="impactflow"`)
		s.fail(c, &apiError{Status: http.StatusUnauthorized, Code: "unauthenticated",
			Message: "an operator or admin API key is required: Authorization: Bearer <key>, or sign in at /codec/signin"})
	}
}

// codecPayloads reads the protocol's body, {"payloads": [{"metadata": {...}, "data": "..."}]},
// after checking the namespace.
func (s *Server) codecPayloads(c *gin.Context) ([]*commonpb.Payload, bool) {
	if s.codecKeys == nil {
		s.fail(c, &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the payload codec is not configured",
			Details: map[string]string{"dependency": "codec"}})
		return nil, false
	}
	if ns := c.GetHeader("X-Namespace"); ns != "" && ns != s.codecNamespace {
		s.fail(c, &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Message: "X-Namespace must be " + s.codecNamespace,
			Details: map[string]string{"field": "X-Namespace"}})
		return nil, false
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	var in commonpb.Payloads
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &in); err != nil {
		s.fail(c, badRequest("payloads", "the body must be {\"payloads\": [{\"metadata\": {...}, \"data\": \"<base64>\"}]}"))
		return nil, false
	}
	return in.Payloads, true
}

func (s *Server) codecRespond(c *gin.Context, out []*commonpb.Payload) {
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: out})
	if err != nil {
		s.fail(c, err)
		return
	}
	if len(out) == 0 {
		b = []byte(`{"payloads":[]}`)
	}
	c.Data(http.StatusOK, "application/json", b)
}

// codecDecode decodes the caller's tenant's payloads; one of another tenant's is a 403 and
// nothing is decoded. Payloads that were never encrypted come back as they are.
func (s *Server) codecDecode(c *gin.Context) {
	in, ok := s.codecPayloads(c)
	if !ok {
		return
	}
	out, err := codec.DecodeForTenant(c.Request.Context(), s.codecKeys, mustPrincipal(c).TenantID, in)
	if errors.Is(err, codec.ErrOtherTenant) {
		s.fail(c, &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: "a payload belongs to another tenant; nothing was decoded"})
		return
	}
	if errors.Is(err, codec.ErrUnknownKey) || errors.Is(err, codec.ErrCorrupt) {
		s.fail(c, badRequest("payloads", "%s", err.Error()))
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.codecRespond(c, out)
}

// codecEncode encrypts payloads with the caller's tenant's key (the UI encodes what an
// operator types to signal or start a workflow).
func (s *Server) codecEncode(c *gin.Context) {
	in, ok := s.codecPayloads(c)
	if !ok {
		return
	}
	out, err := codec.Encode(c.Request.Context(), s.codecKeys, mustPrincipal(c).TenantID, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.codecRespond(c, out)
}

var signInPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>impactflow · codec sign-in</title>
<style>body{font:16px system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}input{width:100%;padding:.5rem;font:inherit}button{margin-top:1rem;padding:.5rem 1rem;font:inherit}.err{color:#b00}</style>
</head><body>
<h1>Read Temporal payloads</h1>
{{if .Tenant}}<p>Signed in for tenant <b>{{.Tenant}}</b> ({{.Role}}) until {{.Until}}. The Temporal UI now shows this tenant's payloads decoded; reload it.</p>
{{else}}<p>Workflow payloads are encrypted. Paste an operator or admin API key to read your tenant's payloads in the Temporal UI for an hour. The key is not stored: the browser keeps a session cookie only.</p>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
<form method="post" action="/codec/signin"><label>API key <input type="password" name="key" autocomplete="off" required autofocus></label><button type="submit">Sign in</button></form>{{end}}
</body></html>`))

type signInView struct {
	Tenant, Role, Until, Error string
}

func (s *Server) renderSignIn(c *gin.Context, status int, v signInView) {
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	c.Status(status)
	c.Header("Content-Type", "text/html; charset=utf-8")
	_ = signInPage.Execute(c.Writer, v)
}

// codecSignInPage is the form where an operator pastes their key.
func (s *Server) codecSignInPage(c *gin.Context) { s.renderSignIn(c, http.StatusOK, signInView{}) }

// codecSignIn checks the key and gives the browser a short-lived codec session cookie:
// HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it; the
// Temporal UI on the same host is the same site), scoped to /codec.
func (s *Server) codecSignIn(c *gin.Context) {
	if s.secretBox == nil {
		s.renderSignIn(c, http.StatusServiceUnavailable, signInView{Error: "IMPACTFLOW_SECRET_KEY is not configured"})
		return
	}
	secret := strings.TrimSpace(c.PostForm("key"))
	if secret == "" {
		s.renderSignIn(c, http.StatusBadRequest, signInView{Error: "Paste an API key."})
		return
	}
	hash := store.HashKey(secret)
	k, err := s.store.APIKeyByHash(c.Request.Context(), hash)
	if errors.Is(err, store.ErrNotFound) {
		s.renderSignIn(c, http.StatusUnauthorized, signInView{Error: "That API key is not valid or has been revoked."})
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if !k.Role.Allows(store.RoleOperator) {
		s.renderSignIn(c, http.StatusForbidden, signInView{Error: "Reading payloads needs an operator or admin key; this one is " + string(k.Role) + "."})
		return
	}
	now := time.Now()
	http.SetCookie(c.Writer, &http.Cookie{
		Name: codecSessionCookie, Value: s.sealSession(hash, now), Path: "/codec",
		MaxAge: int(codecSessionTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: c.Request.TLS != nil || c.GetHeader("X-Forwarded-Proto") == "https",
	})
	s.renderSignIn(c, http.StatusOK, signInView{Tenant: k.TenantID, Role: string(k.Role), Until: now.Add(codecSessionTTL).UTC().Format("15:04 MST")})
}
