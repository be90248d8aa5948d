package providertest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// verifyRS256 checks a compact JWS against pub and returns its header and
// claims; like every real verifier it insists on alg RS256 and a future exp.
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
	if header["alg"] != "RS256" {
		return nil, nil, errors.New("alg is not RS256")
	}
	if exp, ok := claims["exp"].(float64); !ok || time.Unix(int64(exp), 0).Before(time.Now()) {
		return nil, nil, errors.New("expired")
	}
	return header, claims, nil
}

// lifetime is exp minus iat of verified claims, or exp minus now without iat.
func lifetime(claims map[string]any) time.Duration {
	exp, _ := claims["exp"].(float64)
	from := float64(time.Now().Unix())
	if iat, ok := claims["iat"].(float64); ok {
		from = iat
	}
	return time.Duration(exp-from) * time.Second
}
