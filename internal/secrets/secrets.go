// Package secrets encrypts small secrets (partner credentials) at rest with AES-256-GCM.
// Each sealed value names the key that sealed it, so the key can be rotated: new values are
// sealed with the current key and old ones still open with the retired keys until they are
// rewritten.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownKey means a value was sealed with a key this Box does not hold.
var ErrUnknownKey = errors.New("secrets: value sealed with an unknown key")

// ErrCorrupt means a sealed value does not open: tampered with, truncated, or bound to
// other associated data.
var ErrCorrupt = errors.New("secrets: sealed value does not open")

// Box seals and opens values with a current key and any number of retired ones.
type Box struct {
	current string
	keys    map[string]cipher.AEAD
}

// Sealed is an encrypted value and the ID of the key that sealed it.
type Sealed struct {
	KeyID      string
	Ciphertext []byte // nonce followed by the GCM output
}

// Parse builds a Box from IMPACTFLOW_SECRET_KEY: either one base64 32-byte key, or a
// comma-separated list of `id:base64key` whose first entry is the current key and the rest
// retired keys still accepted for opening. A bare key's ID is derived from the key itself.
func Parse(spec string) (*Box, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("no key given")
	}
	b := &Box{keys: map[string]cipher.AEAD{}}
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		id, enc, named := strings.Cut(part, ":")
		if !named {
			id, enc = "", part
		}
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("key %d is not a base64 32-byte key", i+1)
		}
		if id == "" {
			sum := sha256.Sum256(raw)
			id = hex.EncodeToString(sum[:4])
		}
		if _, dup := b.keys[id]; dup {
			return nil, fmt.Errorf("key ID %q appears twice", id)
		}
		aead, err := newAEAD(raw)
		if err != nil {
			return nil, err
		}
		b.keys[id] = aead
		if i == 0 {
			b.current = id
		}
	}
	return b, nil
}

// NewKey returns a fresh random key in the base64 form Parse reads.
func NewKey() string {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	return base64.StdEncoding.EncodeToString(raw)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// CurrentKeyID is the ID of the key new values are sealed with.
func (b *Box) CurrentKeyID() string { return b.current }

// KeyIDs returns the IDs of every key the Box holds, current and retired.
func (b *Box) KeyIDs() []string {
	ids := make([]string, 0, len(b.keys))
	for id := range b.keys {
		ids = append(ids, id)
	}
	return ids
}

// Seal encrypts plaintext with the current key. ad (e.g. "tenant/partner") is bound to the
// value: it opens only with the same ad, so a row copied to another tenant does not decrypt.
func (b *Box) Seal(plaintext, ad []byte) Sealed {
	aead := b.keys[b.current]
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return Sealed{KeyID: b.current, Ciphertext: aead.Seal(nonce, nonce, plaintext, ad)}
}

// Open decrypts a sealed value with the key it names.
func (b *Box) Open(s Sealed, ad []byte) ([]byte, error) {
	aead, ok := b.keys[s.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w (key ID %q)", ErrUnknownKey, s.KeyID)
	}
	n := aead.NonceSize()
	if len(s.Ciphertext) < n+aead.Overhead() {
		return nil, ErrCorrupt
	}
	out, err := aead.Open(nil, s.Ciphertext[:n], s.Ciphertext[n:], ad)
	if err != nil {
		return nil, ErrCorrupt
	}
	return out, nil
}

// Stale reports whether the value was sealed with a retired key and should be re-sealed.
func (b *Box) Stale(s Sealed) bool { return s.KeyID != b.current }
