package service

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/runnel-io/runnel/service/awsjson"
)

// Requests are authenticated with AWS Signature Version 4, as AWS verifies them: the server
// recomputes the signature from the headers the client says it signed (SignedHeaders), the
// body and the secret of the access key in the credential scope, and compares. The SDK's
// signer cannot do this: it decides by itself which headers to sign, and a verifier must sign
// exactly the client's list, so the canonical request is built here (about 80 lines, the
// algorithm AWS documents).

// maxSkew is how far a request's X-Amz-Date may be from the server's clock.
const maxSkew = 15 * time.Minute

// ReadCredentials reads access keys and secrets from a file: one "ACCESS_KEY_ID SECRET" (or
// "ACCESS_KEY_ID:SECRET") per line; blank lines and lines starting with # are skipped.
func ReadCredentials(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("service: credentials: %w", err)
	}
	defer f.Close()
	return ParseCredentials(f.Name(), bufio.NewScanner(f))
}

// ParseCredentials parses the lines of sc as ReadCredentials does; where names the source in
// errors.
func ParseCredentials(where string, sc *bufio.Scanner) (map[string]string, error) {
	out := map[string]string{}
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, secret, ok := strings.Cut(line, ":")
		if !ok {
			f := strings.Fields(line)
			if len(f) == 2 {
				id, secret, ok = f[0], f[1], true
			}
		}
		if !ok || id == "" || secret == "" {
			return nil, fmt.Errorf("service: credentials %s:%d: want ACCESS_KEY_ID SECRET", where, n)
		}
		out[strings.TrimSpace(id)] = strings.TrimSpace(secret)
	}
	return out, sc.Err()
}

// authenticate verifies r's SigV4 signature over body. Without configured credentials every
// request passes.
func (s *Server) authenticate(r *http.Request, body []byte) error {
	if len(s.cfg.Credentials) == 0 {
		return nil
	}
	return verifySigV4(r, body, s.cfg.Credentials, time.Now())
}

// authenticateHTTP verifies a request of the server's own endpoints (logs), which have no body.
func (s *Server) authenticateHTTP(r *http.Request) error { return s.authenticate(r, nil) }

func sigErr(typ, format string, args ...any) error {
	return &awsjson.Error{Type: typ, Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func verifySigV4(r *http.Request, body []byte, creds map[string]string, now time.Time) error {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return sigErr("MissingAuthenticationTokenException", "the request is not signed with AWS Signature Version 4 (no AWS4-HMAC-SHA256 Authorization header)")
	}
	parts := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		parts[k] = v
	}
	scope := strings.Split(parts["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || parts["SignedHeaders"] == "" || parts["Signature"] == "" {
		return sigErr("IncompleteSignatureException", "the Authorization header lacks Credential, SignedHeaders or Signature")
	}
	keyID, day, region, service := scope[0], scope[1], scope[2], scope[3]
	secret, ok := creds[keyID]
	if !ok {
		return sigErr("UnrecognizedClientException", "the access key %s is not one of the server's", keyID)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !strings.HasPrefix(amzDate, day) {
		return sigErr("IncompleteSignatureException", "X-Amz-Date %q is missing, malformed or outside the credential scope's day", amzDate)
	}
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return sigErr("InvalidSignatureException", "signature expired: the request's time %s is %v from the server's", amzDate, d.Round(time.Second))
	}
	signed := strings.Split(parts["SignedHeaders"], ";")
	if !slices.Contains(signed, "host") {
		return sigErr("InvalidSignatureException", "the signature does not cover the host header")
	}
	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canon.WriteString(path + "\n")
	canon.WriteString(canonicalQuery(r.URL.Query()) + "\n")
	for _, h := range signed {
		var v string
		if h == "host" {
			v = r.Host
		} else {
			v = strings.Join(r.Header.Values(h), ",")
		}
		canon.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	canon.WriteString("\n" + parts["SignedHeaders"] + "\n")
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payload {
		return sigErr("InvalidSignatureException", "X-Amz-Content-Sha256 does not match the request body")
	}
	canon.WriteString(payload)
	hash := sha256.Sum256([]byte(canon.String()))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + strings.Join(scope[1:], "/") + "\n" + hex.EncodeToString(hash[:])
	key := hmacSHA256([]byte("AWS4"+secret), day)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(parts["Signature"])) {
		return sigErr("InvalidSignatureException", "the request signature we calculated does not match the signature you provided: check your AWS secret access key and signing method")
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := slices.Clone(q[k])
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, awsEscape(k)+"="+awsEscape(v))
		}
	}
	return strings.Join(parts, "&")
}

// awsEscape URI-encodes s as SigV4 does: every byte but A-Z a-z 0-9 - _ . ~.
func awsEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
