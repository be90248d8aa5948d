package providertest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"time"
)

// KeyPair is an RSA key made for one test, with its PEM forms.
type KeyPair struct {
	Key       *rsa.PrivateKey
	PKCS8PEM  string
	PKCS1PEM  string
	PublicDER []byte
}

// NewKeyPair generates a 2048-bit RSA key (no key files live in the repo).
func NewKeyPair(t TB) KeyPair {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p8, _ := x509.MarshalPKCS8PrivateKey(k)
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return KeyPair{
		Key:       k,
		PKCS8PEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})),
		PKCS1PEM:  string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})),
		PublicDER: pub,
	}
}

// EncryptedPKCS1PEM returns the key with legacy PEM encryption.
func (kp KeyPair) EncryptedPKCS1PEM(t TB, passphrase string) string {
	t.Helper()
	//lint:ignore SA1019 legacy PEM encryption is what Box's tools emit
	b, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(kp.Key), []byte(passphrase), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(b))
}

// Fingerprint is Snowflake's public key fingerprint: SHA256:<base64>.
func (kp KeyPair) Fingerprint() string {
	sum := sha256.Sum256(kp.PublicDER)
	return "SHA256:" + base64.StdEncoding.EncodeToString(sum[:])
}

// verifyRS256 checks a compact JWS against pub and returns its header and
// claims; it also checks exp.
func verifyRS256(token string, pub *rsa.PublicKey) (header, claims map[string]any, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, errors.New("malformed")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return nil, nil, err
	}
	for i, out := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, nil, err
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, nil, err
		}
	}
	if exp, ok := claims["exp"].(float64); !ok || time.Unix(int64(exp), 0).Before(time.Now()) {
		return nil, nil, errors.New("expired")
	}
	return header, claims, nil
}
