package providers

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
)

// signRS256 makes a compact JWS (RS256) of claims: the assertion format of
// Google service accounts, Box JWT apps and Snowflake key-pair login.
func signRS256(key *rsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	header := map[string]any{"alg": "RS256", "typ": "JWT"}
	if kid != "" {
		header["kid"] = kid
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signingInput := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signingInput + "." + enc.EncodeToString(sig), nil
}

// errBadPrivateKey is what users see for a key that does not parse; it
// names no key material.
var errBadPrivateKey = errors.New("private_key is not a PEM RSA key")

// parseRSAKey reads a PEM RSA private key: PKCS#8 or PKCS#1, and legacy
// PEM encryption ("Proc-Type: 4,ENCRYPTED") with passphrase. Encrypted
// PKCS#8 ("ENCRYPTED PRIVATE KEY") needs PBES2, which the standard library
// lacks: such keys are reported as unsupported.
func parseRSAKey(pemText, passphrase string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errBadPrivateKey
	}
	der := block.Bytes
	if block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("encrypted PKCS#8 keys are not supported: decrypt the key (openssl pkcs8) or use a PKCS#1 key with legacy PEM encryption")
	}
	//lint:ignore SA1019 legacy PEM encryption is what Box's and Snowflake's key tools emit
	if x509.IsEncryptedPEMBlock(block) {
		if passphrase == "" {
			return nil, errors.New("private_key is encrypted and no passphrase is set")
		}
		var err error
		//lint:ignore SA1019 see above
		if der, err = x509.DecryptPEMBlock(block, []byte(passphrase)); err != nil {
			return nil, errors.New("the private key passphrase is wrong")
		}
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if rk, ok := k.(*rsa.PrivateKey); ok {
			return rk, nil
		}
		return nil, errBadPrivateKey
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errBadPrivateKey
}
