package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
)

// Keyring holds what the store derives from the server key. The key itself
// never reaches the database: pgcrypto receives a derived passphrase as a
// query parameter, and rows record only the key id, so a later key rotation
// can tell which rows still need re-encryption.
type Keyring struct {
	// CurrentID names the key new secrets are encrypted under.
	CurrentID string
	// passphrases maps key ids to pgcrypto passphrases.
	passphrases map[string]string
	// fingerprintKey signs secret fingerprints; it is derived separately so
	// a fingerprint reveals nothing about the encryption passphrase.
	fingerprintKey []byte
}

// MinKeyLength is the shortest server key accepted, in bytes.
const MinKeyLength = 32

// NewKeyring derives the keyring from the server key
// (CONNVAULT_ENCRYPTION_KEY). Previous keys (CONNVAULT_ENCRYPTION_KEY_PREVIOUS)
// still decrypt rows written under them until `connvault keys rotate` has
// re-encrypted those rows under the current key.
func NewKeyring(serverKey string, previous ...string) (Keyring, error) {
	k := Keyring{passphrases: map[string]string{}}
	for i, key := range append([]string{serverKey}, previous...) {
		if len(key) < MinKeyLength {
			return Keyring{}, errors.New("encryption keys must be at least 32 characters (e.g. 32 random bytes, base64)")
		}
		derive := func(purpose string) []byte {
			m := hmac.New(sha256.New, []byte(key))
			m.Write([]byte(purpose))
			return m.Sum(nil)
		}
		id := "k_" + hex.EncodeToString(derive("connvault key id v1"))[:12]
		k.passphrases[id] = base64.RawStdEncoding.EncodeToString(derive("connvault pgcrypto v1"))
		if i == 0 {
			k.CurrentID = id
			k.fingerprintKey = derive("connvault fingerprint v1")
		}
	}
	return k, nil
}

// FingerprintKey is the HMAC key for secret fingerprints.
func (k Keyring) FingerprintKey() []byte { return k.fingerprintKey }

// CurrentPassphrase is the pgcrypto passphrase of the current key. Only the
// benchmark's floor uses it, to issue the handlers' INSERT itself; never
// log it.
func (k Keyring) CurrentPassphrase() string {
	p, _ := k.passphrase(k.CurrentID)
	return p
}

func (k Keyring) passphrase(id string) (string, bool) {
	p, ok := k.passphrases[id]
	return p, ok
}
