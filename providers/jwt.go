package providers

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
)

// errCannotSign is what a key that was read but cannot sign says.
var errCannotSign = errors.New("the private key cannot sign")

// signJWT signs claims as an RS256 JWT with a PEM private key (decrypted
// with passphrase when it is encrypted): the assertion of a key-based
// login. Its errors are user-facing and name no key material.
func signJWT(pemText, passphrase, kid string, claims map[string]any) (string, error) {
	key, err := parseRSAKey(pemText, passphrase)
	if err != nil {
		return "", err
	}
	return signRS256(key, kid, claims)
}

// signRS256 makes a compact JWS (RS256) of claims: the assertion format of
// Google service accounts, Box JWT apps and Snowflake key-pair login. A
// local signer of a dozen lines keeps a JWT library (and its algorithm
// negotiation) out of the dependency graph.
func signRS256(key *rsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	header := map[string]any{"alg": "RS256", "typ": "JWT"}
	if kid != "" {
		header["kid"] = kid
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", errCannotSign
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", errCannotSign
	}
	enc := base64.RawURLEncoding
	signingInput := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", errCannotSign
	}
	return signingInput + "." + enc.EncodeToString(sig), nil
}
