// Package codec encrypts every Temporal payload impactflow writes: AES-256-GCM with one
// data key per tenant (see Keyring), the key's ID in the payload's metadata so that keys
// rotate and are destroyed without a change to the workflows. A payload without that
// metadata is decoded as it is, so histories recorded before encryption keep replaying.
//
// A PayloadCodec is not told whose payload it encodes, so DataConverter learns the tenant
// from the context of each call (WithTenant on the client side; a header that Propagator
// carries to activities, workflows and child workflows; the TenantId search attribute in
// a workflow started by a schedule).
package codec

import (
	"context"
	"errors"
	"fmt"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload.
const (
	// MetadataEncoding is the standard payload metadata key of the encoding.
	MetadataEncoding = converter.MetadataEncoding
	// EncodingEncrypted is the encoding of a payload this codec encrypted.
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID names the data key that encrypted the payload.
	MetadataKeyID = "encryption-key-id"
)

// keyLookupTimeout bounds a key's read from Postgres on a cache miss: the SDK gives the
// codec no context of its own.
const keyLookupTimeout = 10 * time.Second

// Codec is the converter.PayloadCodec for one tenant: it encrypts with the tenant's
// current data key and decrypts with whichever key a payload names.
type Codec struct {
	Keys   Keys
	Tenant string
}

// Encode encrypts each payload, whole (its metadata included), with the tenant's key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	ctx, cancel := context.WithTimeout(context.Background(), keyLookupTimeout)
	defer cancel()
	return Encode(ctx, c.Keys, c.Tenant, payloads)
}

// Decode decrypts the payloads this codec encrypted and returns the others as they are.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	ctx, cancel := context.WithTimeout(context.Background(), keyLookupTimeout)
	defer cancel()
	return Decode(ctx, c.Keys, payloads)
}

// Encode encrypts the payloads with the tenant's current data key.
func Encode(ctx context.Context, keys Keys, tenant string, payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	if len(payloads) == 0 {
		return payloads, nil
	}
	key, err := keys.Current(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if IsEncrypted(p) {
			out[i] = p // already encrypted (e.g. passed through from another call)
			continue
		}
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("codec: marshal payload: %w", err)
		}
		nonce := make([]byte, key.aead.NonceSize())
		copyRandom(nonce)
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{MetadataEncoding: []byte(EncodingEncrypted), MetadataKeyID: []byte(key.ID)},
			Data:     key.aead.Seal(nonce, nonce, plain, []byte(key.ID)),
		}
	}
	return out, nil
}

// Decode decrypts the encrypted payloads; the others are returned as they are.
func Decode(ctx context.Context, keys Keys, payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if !IsEncrypted(p) {
			out[i] = p
			continue
		}
		key, err := keys.ByID(ctx, KeyID(p))
		if err != nil {
			return nil, err
		}
		if out[i], err = open(key, p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ErrOtherTenant means a payload was encrypted with another tenant's key.
var ErrOtherTenant = errors.New("codec: the payload belongs to another tenant")

// DecodeForTenant decodes the payloads for a caller who may read only the tenant's: when
// any of them is another tenant's it decodes none and returns ErrOtherTenant. A payload
// whose key was destroyed stays encrypted.
func DecodeForTenant(ctx context.Context, keys Keys, tenant string, payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	found := make([]Key, len(payloads))
	for i, p := range payloads {
		if !IsEncrypted(p) {
			continue
		}
		key, err := keys.ByID(ctx, KeyID(p))
		if err != nil && !errors.Is(err, ErrKeyDestroyed) {
			return nil, err
		}
		if key.Tenant != tenant {
			return nil, ErrOtherTenant
		}
		found[i] = key
	}
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if found[i].aead == nil {
			out[i] = p
			continue
		}
		var err error
		if out[i], err = open(found[i], p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ErrCorrupt means an encrypted payload does not decrypt: tampered with or truncated.
var ErrCorrupt = errors.New("codec: encrypted payload does not decrypt")

func open(key Key, p *commonpb.Payload) (*commonpb.Payload, error) {
	n := key.aead.NonceSize()
	if len(p.GetData()) < n+key.aead.Overhead() {
		return nil, fmt.Errorf("%w (key ID %q)", ErrCorrupt, key.ID)
	}
	plain, err := key.aead.Open(nil, p.Data[:n], p.Data[n:], []byte(key.ID))
	if err != nil {
		return nil, fmt.Errorf("%w (key ID %q)", ErrCorrupt, key.ID)
	}
	var inner commonpb.Payload
	if err := proto.Unmarshal(plain, &inner); err != nil {
		return nil, fmt.Errorf("%w (key ID %q)", ErrCorrupt, key.ID)
	}
	return &inner, nil
}

// IsEncrypted reports whether this codec encrypted the payload.
func IsEncrypted(p *commonpb.Payload) bool {
	return string(p.GetMetadata()[MetadataEncoding]) == EncodingEncrypted
}

// KeyID is the ID of the data key that encrypted the payload ("" when none did).
func KeyID(p *commonpb.Payload) string { return string(p.GetMetadata()[MetadataKeyID]) }
