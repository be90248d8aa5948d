package providertest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
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

// EncryptedPKCS1PEM returns the key with legacy PEM encryption
// ("Proc-Type: 4,ENCRYPTED"), as `openssl genrsa -aes256` 1.x writes it.
func (kp KeyPair) EncryptedPKCS1PEM(t TB, passphrase string) string {
	t.Helper()
	//lint:ignore SA1019 tests must produce the legacy form users still paste
	b, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(kp.Key), []byte(passphrase), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(b))
}

// EncryptedPKCS8PEM returns the key as an "ENCRYPTED PRIVATE KEY": PBES2
// with PBKDF2-HMAC-SHA256 and AES-256-CBC, the form Box's developer console
// and `openssl pkcs8 -topk8 -v2 aes256` write. The standard library only
// reads keys, so the few lines of RFC 8018 live here for the tests.
func (kp KeyPair) EncryptedPKCS8PEM(t TB, passphrase string) string {
	t.Helper()
	plain, err := x509.MarshalPKCS8PrivateKey(kp.Key)
	if err != nil {
		t.Fatal(err)
	}
	salt, iv := make([]byte, 16), make([]byte, aes.BlockSize)
	_, _ = rand.Read(salt)
	_, _ = rand.Read(iv)
	const iterations = 2048
	key, err := pbkdf2.Key(sha256.New, passphrase, salt, iterations, 32)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(key)
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	plain = append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	sealed := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(sealed, plain)

	type algorithm struct {
		OID    asn1.ObjectIdentifier
		Params asn1.RawValue `asn1:"optional"`
	}
	raw := func(v any) asn1.RawValue {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return asn1.RawValue{FullBytes: b}
	}
	kdf := algorithm{OID: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}, Params: raw(struct {
		Salt       []byte
		Iterations int
		PRF        algorithm
	}{salt, iterations, algorithm{OID: asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}, Params: asn1.NullRawValue}})}
	enc := algorithm{OID: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}, Params: raw(iv)}
	der, err := asn1.Marshal(struct {
		Algorithm algorithm
		Data      []byte
	}{algorithm{OID: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}, Params: raw(struct{ KDF, Enc algorithm }{kdf, enc})}, sealed})
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}))
}

// Fingerprint is Snowflake's public key fingerprint: SHA256:<base64>.
func (kp KeyPair) Fingerprint() string {
	sum := sha256.Sum256(kp.PublicDER)
	return "SHA256:" + base64.StdEncoding.EncodeToString(sum[:])
}
