package webhooks

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"net/url"
	"testing"
)

// The vectors below are computed in the test from the providers' published algorithms with
// the standard library alone, not with the code under test.

func TestSendGridSignature(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	key, err := ParseSendGridKey(base64.StdEncoding.EncodeToString(der))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`[{"email":"ada@example.com","event":"delivered","sg_event_id":"e1","timestamp":1700000000}]` + "\r\n")
	ts := "1700000000"
	digest := sha256.Sum256(append([]byte(ts), body...))
	sig, _ := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	good := base64.StdEncoding.EncodeToString(sig)

	if !VerifySendGrid(key, good, ts, body) {
		t.Fatal("a valid signature was refused")
	}
	tampered := append([]byte(nil), body...)
	tampered[10] ^= 1
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherSig, _ := ecdsa.SignASN1(rand.Reader, other, digest[:])
	for name, ok := range map[string]bool{
		"tampered body":   VerifySendGrid(key, good, ts, tampered),
		"other timestamp": VerifySendGrid(key, good, "1700000001", body),
		"unsigned":        VerifySendGrid(key, "", ts, body),
		"garbage":         VerifySendGrid(key, "!!", ts, body),
		"other key":       VerifySendGrid(key, base64.StdEncoding.EncodeToString(otherSig), ts, body),
	} {
		if ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestTwilioSignature(t *testing.T) {
	token := "12345"
	u := "https://mycompany.com/myapp.php?foo=1&bar=2"
	params := url.Values{
		"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
		"From": {"+12349013030"}, "To": {"+18005551212"},
	}
	// Twilio's algorithm: the full URL, then each parameter name and value, sorted by name.
	data := u + "CallSid" + "CA1234567890ABCDE" + "Caller" + "+12349013030" + "Digits" + "1234" + "From" + "+12349013030" + "To" + "+18005551212"
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(data))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))

	if got := TwilioSignature(token, u, params); got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	if !VerifyTwilio(token, u, params, want) {
		t.Fatal("valid signature refused")
	}
	params.Set("Digits", "1235")
	if VerifyTwilio(token, u, params, want) {
		t.Fatal("changed parameter accepted")
	}
	if VerifyTwilio(token, u, url.Values{}, "") || VerifyTwilio("", u, params, want) {
		t.Fatal("unsigned or keyless accepted")
	}
}
