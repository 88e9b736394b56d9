package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// LogOptions select the lines Logs prints.
type LogOptions struct {
	// Follow keeps printing lines as the application writes them, until ctx ends.
	Follow bool
	// Level keeps only the lines of one level (DEBUG, INFO, WARN, ERROR); empty keeps all.
	Level string
	// Tail keeps only the last Tail lines of what is already written; 0 keeps all.
	Tail int
}

// emptyHash is the SHA-256 of an empty body, which a signed GET carries.
var emptyHash = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

// Logs copies the log of application name to w: the application's own output (its structured
// logs and what it prints) and the server's lines about it. It is one of the server's own
// endpoints, GET /v1/applications/<name>/logs, not part of the Managed Flink API (whose logs go
// to CloudWatch); the request is signed like the API's.
func (c *Client) Logs(ctx context.Context, name string, o LogOptions, w io.Writer) error {
	q := url.Values{}
	if o.Follow {
		q.Set("follow", "true")
	}
	if o.Level != "" {
		q.Set("level", strings.ToUpper(o.Level))
	}
	if o.Tail > 0 {
		q.Set("tail", strconv.Itoa(o.Tail))
	}
	u := c.endpoint + "/v1/applications/" + url.PathEscape(name) + "/logs"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptyHash, "kinesisanalytics", c.region, time.Now()); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return c.short(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("logs of %s: %s", name, strings.TrimSpace(string(msg)))
	}
	_, err = io.Copy(w, resp.Body)
	if ctx.Err() != nil {
		return nil // following until interrupted is how a follow ends
	}
	return err
}
