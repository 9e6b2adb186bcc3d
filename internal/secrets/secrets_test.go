package secrets

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpenAndRotation(t *testing.T) {
	k1, k2 := NewKey(), NewKey()
	old, err := Parse(k1)
	if err != nil {
		t.Fatal(err)
	}
	sealed := old.Seal([]byte("s3cret"), []byte("acme/benevity"))
	if bytes.Contains(sealed.Ciphertext, []byte("s3cret")) {
		t.Fatal("plaintext visible in the ciphertext")
	}
	got, err := old.Open(sealed, []byte("acme/benevity"))
	if err != nil || string(got) != "s3cret" {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := old.Open(sealed, []byte("globex/benevity")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open with other ad: %v, want ErrCorrupt", err)
	}

	// Rotation: the new key is current, the old one (under its derived ID) still opens.
	rotated, err := Parse("k2:" + k2 + "," + sealed.KeyID + ":" + k1)
	if err != nil {
		t.Fatal(err)
	}
	if !rotated.Stale(sealed) || rotated.CurrentKeyID() != "k2" {
		t.Fatalf("stale=%v current=%q", rotated.Stale(sealed), rotated.CurrentKeyID())
	}
	if got, err := rotated.Open(sealed, []byte("acme/benevity")); err != nil || string(got) != "s3cret" {
		t.Fatalf("open after rotation = %q, %v", got, err)
	}
	resealed := rotated.Seal(got, []byte("acme/benevity"))
	if resealed.KeyID != "k2" {
		t.Fatalf("resealed with %q", resealed.KeyID)
	}
	if _, err := old.Open(resealed, []byte("acme/benevity")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old box opening a k2 value: %v, want ErrUnknownKey", err)
	}

	tampered := Sealed{KeyID: sealed.KeyID, Ciphertext: append([]byte(nil), sealed.Ciphertext...)}
	tampered.Ciphertext[len(tampered.Ciphertext)-1] ^= 1
	if _, err := old.Open(tampered, []byte("acme/benevity")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("tampered: %v", err)
	}
}

func TestParseRejectsBadKeys(t *testing.T) {
	for _, spec := range []string{"", "not-base64!", "c2hvcnQ=", "a:" + NewKey() + ",a:" + NewKey()} {
		if _, err := Parse(spec); err == nil {
			t.Errorf("Parse(%q) accepted", spec)
		}
	}
}
