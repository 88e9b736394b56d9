package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"

	"github.com/runnel-io/runnel/service/lifecycle"
	"github.com/runnel-io/runnel/service/store"
)

// What the service keeps in its store, by key:
//
//	apps/<name>                 record: the application and its lifecycle state
//	versions/<name>/<id:020>    version: a version's configuration
//	ops/<name>/<operation ID>   lifecycle.Operation (IDs are <name>-<6-digit number>)
//	snaps/<name>/<snapshot>     snapshot
//
// Every change of an application is one store transaction.

// record is an application as the store keeps it.
type record struct {
	ARN         string                   `json:"arn"`
	Name        string                   `json:"name"`
	Description string                   `json:"description,omitempty"`
	Runtime     types.RuntimeEnvironment `json:"runtime"`
	Role        string                   `json:"role"`
	Mode        types.ApplicationMode    `json:"mode"`
	Created     time.Time                `json:"created"`
	Updated     time.Time                `json:"updated"`
	Tags        []types.Tag              `json:"tags,omitempty"`
	Token       string                   `json:"conditionalToken"`
	// Logging are the CloudWatch logging options, kept and shown; the logs go to the server's
	// own log store.
	Logging   []types.CloudWatchLoggingOptionDescription `json:"logging,omitempty"`
	NextLogID int                                        `json:"nextLogId"`
	// State is the lifecycle's view of the application.
	State lifecycle.App `json:"state"`
	// Restore is the run configuration of the last start.
	Restore lifecycle.Restore `json:"restore"`
	// Maintenance is the start of the maintenance window ("HH:MM"), kept and shown.
	Maintenance string `json:"maintenance,omitempty"`
	// PID is the application process's ID while it runs, for a restarted server to end a
	// survivor before it starts a new one.
	PID int `json:"pid,omitempty"`
}

// version is one version of an application's configuration.
type version struct {
	ID             int64                                      `json:"id"`
	Config         *types.ApplicationConfigurationDescription `json:"config"`
	Runtime        types.RuntimeEnvironment                   `json:"runtime"`
	Created        time.Time                                  `json:"created"`
	UpdatedFrom    int64                                      `json:"updatedFrom,omitempty"`
	RolledBackFrom int64                                      `json:"rolledBackFrom,omitempty"`
	RolledBackTo   int64                                      `json:"rolledBackTo,omitempty"`
	Logging        []types.CloudWatchLoggingOptionDescription `json:"logging,omitempty"`
}

// snapshot is an application snapshot: a savepoint the service took, on request or when it
// stopped or updated the application.
type snapshot struct {
	Name     string                   `json:"name"`
	Status   types.SnapshotStatus     `json:"status"`
	Version  int64                    `json:"version"`
	Runtime  types.RuntimeEnvironment `json:"runtime"`
	Created  time.Time                `json:"created"`
	Location string                   `json:"location,omitempty"` // the savepoint directory
	Error    string                   `json:"error,omitempty"`
}

func appKey(name string) string               { return "apps/" + name }
func versionKey(name string, id int64) string { return fmt.Sprintf("versions/%s/%020d", name, id) }
func opKey(name, id string) string            { return "ops/" + name + "/" + id }
func snapKey(name, snap string) string        { return "snaps/" + name + "/" + snap }

func put(tx store.Tx, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(key, b)
}

func get(tx store.Tx, key string, v any) error {
	b, err := tx.Get(key)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func getRecord(tx store.Tx, name string) (*record, error) {
	var r record
	if err := get(tx, appKey(name), &r); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("application %s does not exist", name)
		}
		return nil, err
	}
	return &r, nil
}

func getVersion(tx store.Tx, name string, id int64) (*version, error) {
	var v version
	if err := get(tx, versionKey(name, id), &v); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("application %s has no version %d", name, id)
		}
		return nil, err
	}
	return &v, nil
}

// scan yields the decoded values below prefix, in key order.
func scan[T any](tx store.Tx, prefix string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for _, b := range tx.Scan(prefix) {
			var v T
			err := json.Unmarshal(b, &v)
			if !yield(v, err) {
				return
			}
		}
	}
}

// deleteApp deletes every key of the application.
func deleteApp(tx store.Tx, name string) error {
	for _, prefix := range []string{"versions/" + name + "/", "ops/" + name + "/", "snaps/" + name + "/"} {
		var keys []string
		for k := range tx.Scan(prefix) {
			keys = append(keys, k)
		}
		for _, k := range keys {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
	}
	return tx.Delete(appKey(name))
}

// saveOps stores operations that started or changed.
func saveOps(tx store.Tx, r *record, ops ...*lifecycle.Operation) error {
	for _, op := range ops {
		if op == nil {
			continue
		}
		if err := put(tx, opKey(r.Name, op.ID), op); err != nil {
			return err
		}
	}
	return nil
}

// nameOfKey returns the last element of a store key.
func nameOfKey(k string) string { return k[strings.LastIndexByte(k, '/')+1:] }
