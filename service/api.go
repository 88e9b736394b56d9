package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kda "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"

	"github.com/runnel-io/runnel/service/api"
	"github.com/runnel-io/runnel/service/awsjson"
	"github.com/runnel-io/runnel/service/lifecycle"
	"github.com/runnel-io/runnel/service/store"
)

// TargetPrefix is the X-Amz-Target prefix of the Managed Flink API.
const TargetPrefix = "KinesisAnalytics_20180523"

// maxTags is the service's bound on an application's tags.
const maxTags = 50

// op wraps an operation: its request is validated against the service model first.
func op[In, Out any](name string, fn func(ctx context.Context, in *In) (*Out, error)) awsjson.Operation {
	return awsjson.Op(func(in *In) error { return api.Validate(name, in) }, fn)
}

func (s *Server) handler() *awsjson.Handler {
	sqlOnly := "an operation of the retired SQL-v1 runtime (SQL applications with in-application streams); Runnel runs Flink applications"
	return &awsjson.Handler{
		TargetPrefix: TargetPrefix,
		Logger:       s.log,
		Authenticate: s.authenticate,
		Operations: map[string]awsjson.Operation{
			"CreateApplication":                         op("CreateApplication", s.createApplication),
			"DescribeApplication":                       op("DescribeApplication", s.describeApplication),
			"ListApplications":                          op("ListApplications", s.listApplications),
			"UpdateApplication":                         op("UpdateApplication", s.updateApplication),
			"DeleteApplication":                         op("DeleteApplication", s.deleteApplication),
			"StartApplication":                          op("StartApplication", s.startApplication),
			"StopApplication":                           op("StopApplication", s.stopApplication),
			"RollbackApplication":                       op("RollbackApplication", s.rollbackApplication),
			"CreateApplicationSnapshot":                 op("CreateApplicationSnapshot", s.createSnapshot),
			"DescribeApplicationSnapshot":               op("DescribeApplicationSnapshot", s.describeSnapshot),
			"ListApplicationSnapshots":                  op("ListApplicationSnapshots", s.listSnapshots),
			"DeleteApplicationSnapshot":                 op("DeleteApplicationSnapshot", s.deleteSnapshot),
			"ListApplicationVersions":                   op("ListApplicationVersions", s.listVersions),
			"DescribeApplicationVersion":                op("DescribeApplicationVersion", s.describeVersion),
			"ListApplicationOperations":                 op("ListApplicationOperations", s.listOperations),
			"DescribeApplicationOperation":              op("DescribeApplicationOperation", s.describeOperation),
			"TagResource":                               op("TagResource", s.tagResource),
			"UntagResource":                             op("UntagResource", s.untagResource),
			"ListTagsForResource":                       op("ListTagsForResource", s.listTags),
			"AddApplicationCloudWatchLoggingOption":     op("AddApplicationCloudWatchLoggingOption", s.addLogging),
			"DeleteApplicationCloudWatchLoggingOption":  op("DeleteApplicationCloudWatchLoggingOption", s.deleteLogging),
			"UpdateApplicationMaintenanceConfiguration": op("UpdateApplicationMaintenanceConfiguration", s.updateMaintenance),
		},
		Unsupported: map[string]string{
			"AddApplicationInput":                           sqlOnly,
			"AddApplicationInputProcessingConfiguration":    sqlOnly,
			"AddApplicationOutput":                          sqlOnly,
			"AddApplicationReferenceDataSource":             sqlOnly,
			"DeleteApplicationInputProcessingConfiguration": sqlOnly,
			"DeleteApplicationOutput":                       sqlOnly,
			"DeleteApplicationReferenceDataSource":          sqlOnly,
			"DiscoverInputSchema":                           sqlOnly,
			"AddApplicationVpcConfiguration":                "applications run on the server's network; there is no VPC to attach",
			"DeleteApplicationVpcConfiguration":             "applications run on the server's network; there is no VPC to attach",
			"CreateApplicationPresignedUrl":                 "the dashboard comes with Runnel's console (the next release)",
		},
	}
}

// withApp runs fn on the application's record in one store transaction, under the
// application's lock, and carries out the actions fn returns once it committed.
func (s *Server) withApp(name string, fn func(tx store.Tx, r *record, a *appRT) ([]lifecycle.Action, error)) error {
	a := s.rt(name)
	a.mu.Lock()
	defer a.mu.Unlock()
	var acts []lifecycle.Action
	err := s.store.Update(func(tx store.Tx) error {
		r, err := getRecord(tx, name)
		if err != nil {
			return err
		}
		if acts, err = fn(tx, r, a); err != nil {
			return err
		}
		for _, act := range acts {
			if _, ok := act.(lifecycle.Forget); ok {
				return deleteApp(tx, name)
			}
		}
		return put(tx, appKey(name), r)
	})
	if err != nil {
		return lifecycleErr(err)
	}
	s.carryOut(name, a, acts)
	return nil
}

// lifecycleErr turns a lifecycle refusal into the service's exception.
func lifecycleErr(err error) error {
	var le *lifecycle.Error
	if errors.As(err, &le) {
		return awsjson.Errorf(le.Type, "%s", le.Message)
	}
	return err
}

func (s *Server) exists(name string) bool {
	err := s.store.View(func(tx store.Tx) error { _, err := tx.Get(appKey(name)); return err })
	return err == nil
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) createApplication(ctx context.Context, in *kda.CreateApplicationInput) (*kda.CreateApplicationOutput, error) {
	name := aws.ToString(in.ApplicationName)
	if err := checkRuntime(in.RuntimeEnvironment); err != nil {
		return nil, err
	}
	if in.ApplicationMode == types.ApplicationModeInteractive {
		return nil, unsupported("ApplicationMode INTERACTIVE: Studio notebooks are not supported; use STREAMING")
	}
	if len(in.Tags) > maxTags {
		return nil, awsErr("TooManyTagsException", "%d tags: an application has at most %d", len(in.Tags), maxTags)
	}
	if s.exists(name) {
		return nil, awsErr("ResourceInUseException", "application %s already exists", name)
	}
	var (
		zipData []byte
		code    *types.ApplicationCodeConfigurationDescription
	)
	if c := in.ApplicationConfiguration; c != nil && c.ApplicationCodeConfiguration != nil {
		cc := c.ApplicationCodeConfiguration
		var err error
		if cc.CodeContent == nil {
			return nil, invalidArg("ApplicationCodeConfiguration.CodeContent: give ZipFileContent or S3ContentLocation")
		}
		zipData, code, err = s.fetchCode(ctx, cc.CodeContentType, cc.CodeContent.ZipFileContent, cc.CodeContent.S3ContentLocation, cc.CodeContent.TextContent)
		if err != nil {
			return nil, err
		}
	} else {
		return nil, invalidArg("ApplicationConfiguration.ApplicationCodeConfiguration is required: a ZIP with a bootstrap executable built with app.Main")
	}
	desc, err := newDescription(in.ApplicationConfiguration, code)
	if err != nil {
		return nil, err
	}
	set := settingsOf(desc)
	now := time.Now().UTC().Truncate(time.Millisecond)
	r := &record{ARN: s.ARN(name), Name: name, Description: aws.ToString(in.ApplicationDescription),
		Runtime: in.RuntimeEnvironment, Role: aws.ToString(in.ServiceExecutionRole), Mode: types.ApplicationModeStreaming,
		Created: now, Updated: now, Tags: in.Tags, Token: newToken(),
		State: lifecycle.App{Name: name, Status: lifecycle.Ready, Version: 1, Parallelism: set.parallelism,
			SnapshotsEnabled: set.snapshots, RollbackEnabled: set.rollback}}
	for _, o := range in.CloudWatchLoggingOptions {
		r.NextLogID++
		r.Logging = append(r.Logging, types.CloudWatchLoggingOptionDescription{LogStreamARN: o.LogStreamARN,
			CloudWatchLoggingOptionId: aws.String(fmt.Sprintf("%d.%d", 1, r.NextLogID))})
	}
	v := &version{ID: 1, Config: desc, Runtime: in.RuntimeEnvironment, Created: now, Logging: r.Logging}
	if err := s.saveCode(name, 1, zipData); err != nil {
		return nil, fmt.Errorf("saving the code of %s: %w", name, err)
	}
	a := s.rt(name)
	a.mu.Lock()
	defer a.mu.Unlock()
	err = s.store.Update(func(tx store.Tx) error {
		if _, err := tx.Get(appKey(name)); err == nil {
			return awsErr("ResourceInUseException", "application %s already exists", name)
		}
		r.State.NextOp++
		created := &lifecycle.Operation{ID: fmt.Sprintf("%s-%06d", name, r.State.NextOp), Kind: "CreateApplication",
			Status: lifecycle.Successful, Start: now, End: now, VersionID: 1}
		if err := saveOps(tx, r, created); err != nil {
			return err
		}
		if err := put(tx, versionKey(name, 1), v); err != nil {
			return err
		}
		return put(tx, appKey(name), r)
	})
	if err != nil {
		return nil, err
	}
	a.log.Printf("runnel: application created (version 1, %s)", set)
	return &kda.CreateApplicationOutput{ApplicationDetail: s.detail(r, v, false)}, nil
}

func (s *Server) describeApplication(_ context.Context, in *kda.DescribeApplicationInput) (*kda.DescribeApplicationOutput, error) {
	var out *types.ApplicationDetail
	err := s.store.View(func(tx store.Tx) error {
		r, err := getRecord(tx, aws.ToString(in.ApplicationName))
		if err != nil {
			return err
		}
		v, err := getVersion(tx, r.Name, r.State.Version)
		if err != nil {
			return err
		}
		out = s.detail(r, v, aws.ToBool(in.IncludeAdditionalDetails))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &kda.DescribeApplicationOutput{ApplicationDetail: out}, nil
}

// page returns the items of a sorted list from after NextToken (the key of the last item of
// the previous page), at most limit of them, and the next token.
func page[T any](items []T, key func(T) string, token *string, limit *int32) ([]T, *string, error) {
	n := 50
	if limit != nil {
		n = int(*limit)
	}
	start := 0
	if token != nil {
		i := slices.IndexFunc(items, func(t T) bool { return key(t) == *token })
		if i < 0 {
			return nil, nil, invalidArg("NextToken %q is not a token of this list", *token)
		}
		start = i + 1
	}
	end := min(len(items), start+n)
	var next *string
	if end < len(items) {
		next = aws.String(key(items[end-1]))
	}
	return items[start:end], next, nil
}

func (s *Server) listApplications(_ context.Context, in *kda.ListApplicationsInput) (*kda.ListApplicationsOutput, error) {
	var all []types.ApplicationSummary
	err := s.store.View(func(tx store.Tx) error {
		for r, err := range scan[record](tx, "apps/") {
			if err != nil {
				return err
			}
			all = append(all, types.ApplicationSummary{ApplicationARN: aws.String(r.ARN), ApplicationName: aws.String(r.Name),
				ApplicationStatus: types.ApplicationStatus(r.State.Status), ApplicationVersionId: aws.Int64(r.State.Version),
				RuntimeEnvironment: r.Runtime, ApplicationMode: r.Mode})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	items, next, err := page(all, func(a types.ApplicationSummary) string { return *a.ApplicationName }, in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	return &kda.ListApplicationsOutput{ApplicationSummaries: items, NextToken: next}, nil
}

// checkVersion compares the caller's idea of the current version with the application's.
func checkVersion(r *record, current *int64, token *string) error {
	switch {
	case current == nil && token == nil:
		return invalidArg("give CurrentApplicationVersionId or ConditionalToken")
	case current != nil && *current != r.State.Version:
		return awsErr("ConcurrentModificationException", "application %s is at version %d, not %d: describe it and try again", r.Name, r.State.Version, *current)
	case current == nil && *token != r.Token:
		return awsErr("ConcurrentModificationException", "the ConditionalToken of application %s has changed: describe it and try again", r.Name)
	}
	return nil
}

// newVersion stores version id of the application with config, made from version from.
func (s *Server) newVersion(tx store.Tx, r *record, from *version, id int64, config *types.ApplicationConfigurationDescription, runtime types.RuntimeEnvironment) (*version, error) {
	v := &version{ID: id, Config: config, Runtime: runtime, Created: time.Now().UTC().Truncate(time.Millisecond),
		UpdatedFrom: from.ID, Logging: slices.Clone(r.Logging)}
	if err := put(tx, versionKey(r.Name, id), v); err != nil {
		return nil, err
	}
	r.Token, r.Updated = newToken(), v.Created
	return v, nil
}

// latestVersion returns the highest version ID stored.
func latestVersion(tx store.Tx, name string) int64 {
	var id int64
	for k := range tx.Scan("versions/" + name + "/") {
		n, _ := strconv.ParseInt(nameOfKey(k), 10, 64)
		id = max(id, n)
	}
	return id
}

func (s *Server) updateApplication(ctx context.Context, in *kda.UpdateApplicationInput) (*kda.UpdateApplicationOutput, error) {
	name := aws.ToString(in.ApplicationName)
	if in.RuntimeEnvironmentUpdate != "" {
		if err := checkRuntime(in.RuntimeEnvironmentUpdate); err != nil {
			return nil, err
		}
	}
	// New code is fetched and checked before the application is locked: reading S3 can take a
	// while.
	var (
		zipData []byte
		code    *types.ApplicationCodeConfigurationDescription
	)
	if u := in.ApplicationConfigurationUpdate; u != nil && u.ApplicationCodeConfigurationUpdate != nil && u.ApplicationCodeConfigurationUpdate.CodeContentUpdate != nil {
		cu := u.ApplicationCodeConfigurationUpdate
		c := cu.CodeContentUpdate
		var s3loc *types.S3ContentLocation
		if l := c.S3ContentLocationUpdate; l != nil {
			s3loc = &types.S3ContentLocation{BucketARN: l.BucketARNUpdate, FileKey: l.FileKeyUpdate, ObjectVersion: l.ObjectVersionUpdate}
		}
		var err error
		if zipData, code, err = s.fetchCode(ctx, cu.CodeContentTypeUpdate, c.ZipFileContentUpdate, s3loc, c.TextContentUpdate); err != nil {
			return nil, err
		}
	}
	var (
		out *kda.UpdateApplicationOutput
	)
	err := s.withApp(name, func(tx store.Tx, r *record, a *appRT) ([]lifecycle.Action, error) {
		if err := checkVersion(r, in.CurrentApplicationVersionId, in.ConditionalToken); err != nil {
			return nil, err
		}
		if r.State.Status != lifecycle.Ready && r.State.Status != lifecycle.Running {
			return nil, awsErr("ResourceInUseException", "application %s is in %s status; only a READY or RUNNING application can be updated", name, r.State.Status)
		}
		cur, err := getVersion(tx, name, r.State.Version)
		if err != nil {
			return nil, err
		}
		config, err := applyUpdate(cur.Config, in.ApplicationConfigurationUpdate, code)
		if err != nil {
			return nil, err
		}
		for _, u := range in.CloudWatchLoggingOptionUpdates {
			i := slices.IndexFunc(r.Logging, func(d types.CloudWatchLoggingOptionDescription) bool {
				return aws.ToString(d.CloudWatchLoggingOptionId) == aws.ToString(u.CloudWatchLoggingOptionId)
			})
			if i < 0 {
				return nil, awsErr("ResourceNotFoundException", "application %s has no CloudWatch logging option %s", name, aws.ToString(u.CloudWatchLoggingOptionId))
			}
			if u.LogStreamARNUpdate != nil {
				r.Logging[i].LogStreamARN = u.LogStreamARNUpdate
			}
		}
		if ru := in.RunConfigurationUpdate; ru != nil {
			if f := ru.FlinkRunConfiguration; f != nil && f.AllowNonRestoredState != nil {
				r.Restore.AllowNonRestoredState = *f.AllowNonRestoredState
			}
		}
		if in.ServiceExecutionRoleUpdate != nil {
			r.Role = *in.ServiceExecutionRoleUpdate
		}
		runtime := cur.Runtime
		if in.RuntimeEnvironmentUpdate != "" {
			runtime = in.RuntimeEnvironmentUpdate
			r.Runtime = runtime
		}
		id := latestVersion(tx, name) + 1
		v, err := s.newVersion(tx, r, cur, id, config, runtime)
		if err != nil {
			return nil, err
		}
		if zipData != nil {
			err = s.saveCode(name, id, zipData)
		} else {
			err = s.copyCode(name, cur.ID, id)
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("storing the code of version %d: %w", id, err)
		}
		set := settingsOf(config)
		r.State.SnapshotsEnabled, r.State.RollbackEnabled = set.snapshots, set.rollback
		opr, acts, err := r.State.Update(time.Now(), "UpdateApplication", id, set.parallelism)
		if err != nil {
			return nil, err
		}
		if err := saveOps(tx, r, opr); err != nil {
			return nil, err
		}
		a.log.Printf("runnel: version %d (%s)", id, set)
		out = &kda.UpdateApplicationOutput{ApplicationDetail: s.detail(r, v, false), OperationId: aws.String(opr.ID)}
		return acts, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Server) deleteApplication(_ context.Context, in *kda.DeleteApplicationInput) (*kda.DeleteApplicationOutput, error) {
	name := aws.ToString(in.ApplicationName)
	err := s.withApp(name, func(tx store.Tx, r *record, a *appRT) ([]lifecycle.Action, error) {
		// The AWS CLI sends the timestamp DescribeApplication showed, in whole seconds.
		if in.CreateTimestamp == nil || in.CreateTimestamp.Unix() != r.Created.Unix() {
			return nil, invalidArg("CreateTimestamp %v is not application %s's creation time (%s)", fmtTime(in.CreateTimestamp), name, r.Created.Format(time.RFC3339))
		}
		acts, err := r.State.Delete(time.Now())
		if err == nil {
			a.log.Printf("runnel: deleting the application")
		}
		return acts, err
	})
	if err != nil {
		return nil, err
	}
	return &kda.DeleteApplicationOutput{}, nil
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "(none)"
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *Server) startApplication(_ context.Context, in *kda.StartApplicationInput) (*kda.StartApplicationOutput, error) {
	name := aws.ToString(in.ApplicationName)
	var opID string
	err := s.withApp(name, func(tx store.Tx, r *record, a *appRT) ([]lifecycle.Action, error) {
		restore := lifecycle.Restore{Mode: lifecycle.RestoreLatest, AllowNonRestoredState: r.Restore.AllowNonRestoredState}
		if rc := in.RunConfiguration; rc != nil {
			if ar := rc.ApplicationRestoreConfiguration; ar != nil {
				restore.Mode = string(ar.ApplicationRestoreType)
				restore.Snapshot = aws.ToString(ar.SnapshotName)
			}
			if f := rc.FlinkRunConfiguration; f != nil && f.AllowNonRestoredState != nil {
				restore.AllowNonRestoredState = *f.AllowNonRestoredState
			}
		}
		if restore.Mode == lifecycle.RestoreCustom {
			if restore.Snapshot == "" {
				return nil, invalidArg("RunConfiguration.ApplicationRestoreConfiguration.SnapshotName is required with RESTORE_FROM_CUSTOM_SNAPSHOT")
			}
			var snap snapshot
			if err := get(tx, snapKey(name, restore.Snapshot), &snap); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return nil, notFound("application %s has no snapshot %s", name, restore.Snapshot)
				}
				return nil, err
			}
			if snap.Status != types.SnapshotStatusReady {
				return nil, invalidArg("snapshot %s of application %s is %s, not READY", restore.Snapshot, name, snap.Status)
			}
		}
		opr, acts, err := r.State.Start(time.Now(), restore)
		if err != nil {
			return nil, err
		}
		r.Restore = restore
		opID = opr.ID
		return acts, saveOps(tx, r, opr)
	})
	if err != nil {
		return nil, err
	}
	return &kda.StartApplicationOutput{OperationId: aws.String(opID)}, nil
}

func (s *Server) stopApplication(_ context.Context, in *kda.StopApplicationInput) (*kda.StopApplicationOutput, error) {
	name := aws.ToString(in.ApplicationName)
	var opID string
	err := s.withApp(name, func(tx store.Tx, r *record, a *appRT) ([]lifecycle.Action, error) {
		opr, acts, err := r.State.Stop(time.Now(), aws.ToBool(in.Force))
		if err != nil {
			return nil, err
		}
		opID = opr.ID
		return acts, saveOps(tx, r, opr)
	})
	if err != nil {
		return nil, err
	}
	return &kda.StopApplicationOutput{OperationId: aws.String(opID)}, nil
}

func (s *Server) rollbackApplication(_ context.Context, in *kda.RollbackApplicationInput) (*kda.RollbackApplicationOutput, error) {
	name := aws.ToString(in.ApplicationName)
	var out *kda.RollbackApplicationOutput
	err := s.withApp(name, func(tx store.Tx, r *record, a *appRT) ([]lifecycle.Action, error) {
		if err := checkVersion(r, in.CurrentApplicationVersionId, nil); err != nil {
			return nil, err
		}
		cur, err := getVersion(tx, name, r.State.Version)
		if err != nil {
			return nil, err
		}
		prevID := cur.UpdatedFrom
		if cur.RolledBackTo != 0 {
			prevID = cur.RolledBackTo - 1
		}
		if prevID <= 0 {
			return nil, awsErr("InvalidRequestException", "application %s has no earlier version to roll back to", name)
		}
		prev, err := getVersion(tx, name, prevID)
		if err != nil {
			return nil, err
		}
		id := latestVersion(tx, name) + 1
		v, err := s.newVersion(tx, r, cur, id, prev.Config, prev.Runtime)
		if err != nil {
			return nil, err
		}
		v.UpdatedFrom, v.RolledBackFrom, v.RolledBackTo = 0, cur.ID, prev.ID
		if err := put(tx, versionKey(name, id), v); err != nil {
			return nil, err
		}
		if err := s.copyCode(name, prev.ID, id); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("restoring the code of version %d: %w", prev.ID, err)
		}
		set := settingsOf(prev.Config)
		r.State.SnapshotsEnabled, r.State.RollbackEnabled = set.snapshots, set.rollback
		opr, acts, err := r.State.Update(time.Now(), "RollbackApplication", id, set.parallelism)
		if err != nil {
			return nil, err
		}
		if err := saveOps(tx, r, opr); err != nil {
			return nil, err
		}
		a.log.Printf("runnel: rolling back from version %d to the configuration of version %d (as version %d)", cur.ID, prev.ID, id)
		out = &kda.RollbackApplicationOutput{ApplicationDetail: s.detail(r, v, false), OperationId: aws.String(opr.ID)}
		return acts, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Server) createSnapshot(_ context.Context, in *kda.CreateApplicationSnapshotInput) (*kda.CreateApplicationSnapshotOutput, error) {
	name, snap := aws.ToString(in.ApplicationName), aws.ToString(in.SnapshotName)
	a := s.rt(name)
	a.mu.Lock()
	defer a.mu.Unlock()
	var rec snapshot
	err := s.store.Update(func(tx store.Tx) error {
		r, err := getRecord(tx, name)
		if err != nil {
			return err
		}
		switch {
		case !r.State.SnapshotsEnabled:
			return awsErr("InvalidApplicationConfigurationException", "snapshots are disabled for application %s (ApplicationSnapshotConfiguration)", name)
		case r.State.Status != lifecycle.Running:
			return awsErr("InvalidRequestException", "application %s is in %s status; snapshots are taken of a RUNNING application", name, r.State.Status)
		case a.proc == nil:
			return awsErr("InvalidRequestException", "application %s's process is restarting after a failure; try again once it runs", name)
		}
		if _, err := tx.Get(snapKey(name, snap)); err == nil {
			return awsErr("ResourceInUseException", "application %s already has a snapshot %s", name, snap)
		}
		rec = snapshot{Name: snap, Status: types.SnapshotStatusCreating, Version: r.State.Version, Runtime: r.Runtime, Created: time.Now().UTC()}
		return put(tx, snapKey(name, snap), rec)
	})
	if err != nil {
		return nil, err
	}
	p := a.proc
	s.wg.Go(func() {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Minute)
		defer cancel()
		loc, serr := p.Savepoint(ctx, s.snapshotDir(name, snap), false)
		rec.Status, rec.Location = types.SnapshotStatusReady, loc
		if serr != nil {
			rec.Status, rec.Error = types.SnapshotStatusFailed, serr.Error()
			a.log.Printf("runnel: snapshot %s failed: %v", snap, serr)
		} else {
			a.log.Printf("runnel: snapshot %s taken", snap)
		}
		_ = s.store.Update(func(tx store.Tx) error {
			if _, err := tx.Get(snapKey(name, snap)); err != nil {
				return nil // deleted meanwhile
			}
			return put(tx, snapKey(name, snap), rec)
		})
	})
	return &kda.CreateApplicationSnapshotOutput{}, nil
}

func (s *Server) describeSnapshot(_ context.Context, in *kda.DescribeApplicationSnapshotInput) (*kda.DescribeApplicationSnapshotOutput, error) {
	name, snap := aws.ToString(in.ApplicationName), aws.ToString(in.SnapshotName)
	var out *types.SnapshotDetails
	err := s.store.View(func(tx store.Tx) error {
		if _, err := getRecord(tx, name); err != nil {
			return err
		}
		var rec snapshot
		if err := get(tx, snapKey(name, snap), &rec); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notFound("application %s has no snapshot %s", name, snap)
			}
			return err
		}
		out = snapshotDetails(rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &kda.DescribeApplicationSnapshotOutput{SnapshotDetails: out}, nil
}

func (s *Server) listSnapshots(_ context.Context, in *kda.ListApplicationSnapshotsInput) (*kda.ListApplicationSnapshotsOutput, error) {
	name := aws.ToString(in.ApplicationName)
	var all []types.SnapshotDetails
	err := s.store.View(func(tx store.Tx) error {
		if _, err := getRecord(tx, name); err != nil {
			return err
		}
		for rec, err := range scan[snapshot](tx, "snaps/"+name+"/") {
			if err != nil {
				return err
			}
			all = append(all, *snapshotDetails(rec))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	items, next, err := page(all, func(d types.SnapshotDetails) string { return *d.SnapshotName }, in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	return &kda.ListApplicationSnapshotsOutput{SnapshotSummaries: items, NextToken: next}, nil
}

func (s *Server) deleteSnapshot(_ context.Context, in *kda.DeleteApplicationSnapshotInput) (*kda.DeleteApplicationSnapshotOutput, error) {
	name, snap := aws.ToString(in.ApplicationName), aws.ToString(in.SnapshotName)
	var loc string
	err := s.withApp(name, func(tx store.Tx, r *record, a *appRT) ([]lifecycle.Action, error) {
		var rec snapshot
		if err := get(tx, snapKey(name, snap), &rec); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, notFound("application %s has no snapshot %s", name, snap)
			}
			return nil, err
		}
		if in.SnapshotCreationTimestamp == nil || in.SnapshotCreationTimestamp.Unix() != rec.Created.Unix() {
			return nil, invalidArg("SnapshotCreationTimestamp %v is not snapshot %s's creation time (%s)", fmtTime(in.SnapshotCreationTimestamp), snap, rec.Created.Format(time.RFC3339))
		}
		if rec.Status == types.SnapshotStatusCreating {
			return nil, awsErr("ResourceInUseException", "snapshot %s is being created", snap)
		}
		loc = rec.Location
		return nil, tx.Delete(snapKey(name, snap))
	})
	if err != nil {
		return nil, err
	}
	if loc != "" && !strings.Contains(loc, "://") {
		_ = os.RemoveAll(s.snapshotDir(name, snap))
	}
	return &kda.DeleteApplicationSnapshotOutput{}, nil
}

func (s *Server) listVersions(_ context.Context, in *kda.ListApplicationVersionsInput) (*kda.ListApplicationVersionsOutput, error) {
	name := aws.ToString(in.ApplicationName)
	var all []types.ApplicationVersionSummary
	err := s.store.View(func(tx store.Tx) error {
		r, err := getRecord(tx, name)
		if err != nil {
			return err
		}
		for v, err := range scan[version](tx, "versions/"+name+"/") {
			if err != nil {
				return err
			}
			st := types.ApplicationStatusReady
			if v.ID == r.State.Version {
				st = types.ApplicationStatus(r.State.Status)
			}
			all = append(all, types.ApplicationVersionSummary{ApplicationVersionId: aws.Int64(v.ID), ApplicationStatus: st})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(all) // newest first
	items, next, err := page(all, func(v types.ApplicationVersionSummary) string { return fmt.Sprint(*v.ApplicationVersionId) }, in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	return &kda.ListApplicationVersionsOutput{ApplicationVersionSummaries: items, NextToken: next}, nil
}

func (s *Server) describeVersion(_ context.Context, in *kda.DescribeApplicationVersionInput) (*kda.DescribeApplicationVersionOutput, error) {
	name := aws.ToString(in.ApplicationName)
	var out *types.ApplicationDetail
	err := s.store.View(func(tx store.Tx) error {
		r, err := getRecord(tx, name)
		if err != nil {
			return err
		}
		v, err := getVersion(tx, name, aws.ToInt64(in.ApplicationVersionId))
		if err != nil {
			return err
		}
		out = s.detail(r, v, false)
		if v.ID != r.State.Version {
			out.ApplicationStatus = types.ApplicationStatusReady
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &kda.DescribeApplicationVersionOutput{ApplicationVersionDetail: out}, nil
}

func (s *Server) listOperations(_ context.Context, in *kda.ListApplicationOperationsInput) (*kda.ListApplicationOperationsOutput, error) {
	name := aws.ToString(in.ApplicationName)
	var all []types.ApplicationOperationInfo
	err := s.store.View(func(tx store.Tx) error {
		if _, err := getRecord(tx, name); err != nil {
			return err
		}
		for o, err := range scan[lifecycle.Operation](tx, "ops/"+name+"/") {
			if err != nil {
				return err
			}
			if in.Operation != nil && *in.Operation != o.Kind {
				continue
			}
			if in.OperationStatus != "" && string(in.OperationStatus) != string(o.Status) {
				continue
			}
			all = append(all, types.ApplicationOperationInfo{OperationId: aws.String(o.ID), Operation: aws.String(o.Kind),
				OperationStatus: types.OperationStatus(o.Status), StartTime: aws.Time(o.Start), EndTime: optTime(o.End)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(all) // newest first
	items, next, err := page(all, func(o types.ApplicationOperationInfo) string { return *o.OperationId }, in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	return &kda.ListApplicationOperationsOutput{ApplicationOperationInfoList: items, NextToken: next}, nil
}

func (s *Server) describeOperation(_ context.Context, in *kda.DescribeApplicationOperationInput) (*kda.DescribeApplicationOperationOutput, error) {
	name, id := aws.ToString(in.ApplicationName), aws.ToString(in.OperationId)
	var out *types.ApplicationOperationInfoDetails
	err := s.store.View(func(tx store.Tx) error {
		if _, err := getRecord(tx, name); err != nil {
			return err
		}
		var o lifecycle.Operation
		if err := get(tx, opKey(name, id), &o); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notFound("application %s has no operation %s", name, id)
			}
			return err
		}
		out = &types.ApplicationOperationInfoDetails{Operation: aws.String(o.Kind), OperationStatus: types.OperationStatus(o.Status),
			StartTime: aws.Time(o.Start), EndTime: optTime(o.End)}
		if o.VersionID != o.FromID {
			out.ApplicationVersionChangeDetails = &types.ApplicationVersionChangeDetails{
				ApplicationVersionUpdatedFrom: aws.Int64(o.FromID), ApplicationVersionUpdatedTo: aws.Int64(o.VersionID)}
		}
		if o.Status == lifecycle.Failed || o.RollbackOperationID != "" {
			fd := &types.OperationFailureDetails{ErrorInfo: &types.ErrorInfo{ErrorString: aws.String(o.Error)}}
			if o.RollbackOperationID != "" {
				fd.RollbackOperationId = aws.String(o.RollbackOperationID)
			}
			out.OperationFailureDetails = fd
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &kda.DescribeApplicationOperationOutput{ApplicationOperationInfoDetails: out}, nil
}

// appOfARN returns the application an ARN of this server names.
func (s *Server) appOfARN(arn string) (string, error) {
	prefix := s.ARN("")
	name, ok := strings.CutPrefix(arn, prefix)
	if !ok || name == "" {
		return "", invalidArg("ResourceARN %q is not an application ARN of this server (%s<name>)", arn, prefix)
	}
	return name, nil
}

func (s *Server) tagResource(_ context.Context, in *kda.TagResourceInput) (*kda.TagResourceOutput, error) {
	name, err := s.appOfARN(aws.ToString(in.ResourceARN))
	if err != nil {
		return nil, err
	}
	err = s.withApp(name, func(tx store.Tx, r *record, a *appRT) ([]lifecycle.Action, error) {
		for _, t := range in.Tags {
			i := slices.IndexFunc(r.Tags, func(x types.Tag) bool { return aws.ToString(x.Key) == aws.ToString(t.Key) })
			if i >= 0 {
				r.Tags[i] = t
			} else {
				r.Tags = append(r.Tags, t)
			}
		}
		if len(r.Tags) > maxTags {
			return nil, awsErr("TooManyTagsException", "application %s would have %d tags, more than %d", name, len(r.Tags), maxTags)
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &kda.TagResourceOutput{}, nil
}

func (s *Server) untagResource(_ context.Context, in *kda.UntagResourceInput) (*kda.UntagResourceOutput, error) {
	name, err := s.appOfARN(aws.ToString(in.ResourceARN))
	if err != nil {
		return nil, err
	}
	err = s.withApp(name, func(tx store.Tx, r *record, a *appRT) ([]lifecycle.Action, error) {
		r.Tags = slices.DeleteFunc(r.Tags, func(t types.Tag) bool { return slices.Contains(in.TagKeys, aws.ToString(t.Key)) })
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &kda.UntagResourceOutput{}, nil
}

func (s *Server) listTags(_ context.Context, in *kda.ListTagsForResourceInput) (*kda.ListTagsForResourceOutput, error) {
	name, err := s.appOfARN(aws.ToString(in.ResourceARN))
	if err != nil {
		return nil, err
	}
	var tags []types.Tag
	err = s.store.View(func(tx store.Tx) error {
		r, err := getRecord(tx, name)
		if err == nil {
			tags = r.Tags
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if tags == nil {
		tags = []types.Tag{}
	}
	return &kda.ListTagsForResourceOutput{Tags: tags}, nil
}

// changeLogging makes a new version with the logging options changed by fn.
func (s *Server) changeLogging(name string, current *int64, token *string, fn func(r *record) error) (*record, *lifecycle.Operation, error) {
	var (
		out *record
		opr *lifecycle.Operation
	)
	err := s.withApp(name, func(tx store.Tx, r *record, a *appRT) ([]lifecycle.Action, error) {
		if err := checkVersion(r, current, token); err != nil {
			return nil, err
		}
		if r.State.Status != lifecycle.Ready && r.State.Status != lifecycle.Running {
			return nil, awsErr("ResourceInUseException", "application %s is in %s status", name, r.State.Status)
		}
		if err := fn(r); err != nil {
			return nil, err
		}
		cur, err := getVersion(tx, name, r.State.Version)
		if err != nil {
			return nil, err
		}
		id := latestVersion(tx, name) + 1
		if _, err := s.newVersion(tx, r, cur, id, cur.Config, cur.Runtime); err != nil {
			return nil, err
		}
		if err := s.copyCode(name, cur.ID, id); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		// A logging change needs no restart: the version changes in place.
		r.State.NextOp++
		now := time.Now()
		opr = &lifecycle.Operation{ID: fmt.Sprintf("%s-%06d", name, r.State.NextOp), Kind: "UpdateApplication",
			Status: lifecycle.Successful, Start: now, End: now, VersionID: id, FromID: cur.ID}
		r.State.Version = id
		out = r
		return nil, saveOps(tx, r, opr)
	})
	return out, opr, err
}

func (s *Server) addLogging(_ context.Context, in *kda.AddApplicationCloudWatchLoggingOptionInput) (*kda.AddApplicationCloudWatchLoggingOptionOutput, error) {
	name := aws.ToString(in.ApplicationName)
	r, opr, err := s.changeLogging(name, in.CurrentApplicationVersionId, in.ConditionalToken, func(r *record) error {
		arn := aws.ToString(in.CloudWatchLoggingOption.LogStreamARN)
		for _, d := range r.Logging {
			if aws.ToString(d.LogStreamARN) == arn {
				return invalidArg("application %s already logs to %s", name, arn)
			}
		}
		r.NextLogID++
		r.Logging = append(r.Logging, types.CloudWatchLoggingOptionDescription{LogStreamARN: aws.String(arn),
			CloudWatchLoggingOptionId: aws.String(fmt.Sprintf("%d.%d", r.State.Version+1, r.NextLogID))})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &kda.AddApplicationCloudWatchLoggingOptionOutput{ApplicationARN: aws.String(r.ARN), ApplicationVersionId: aws.Int64(r.State.Version),
		CloudWatchLoggingOptionDescriptions: r.Logging, OperationId: aws.String(opr.ID)}, nil
}

func (s *Server) deleteLogging(_ context.Context, in *kda.DeleteApplicationCloudWatchLoggingOptionInput) (*kda.DeleteApplicationCloudWatchLoggingOptionOutput, error) {
	name := aws.ToString(in.ApplicationName)
	id := aws.ToString(in.CloudWatchLoggingOptionId)
	r, opr, err := s.changeLogging(name, in.CurrentApplicationVersionId, in.ConditionalToken, func(r *record) error {
		n := len(r.Logging)
		r.Logging = slices.DeleteFunc(r.Logging, func(d types.CloudWatchLoggingOptionDescription) bool {
			return aws.ToString(d.CloudWatchLoggingOptionId) == id
		})
		if len(r.Logging) == n {
			return notFound("application %s has no CloudWatch logging option %s", name, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &kda.DeleteApplicationCloudWatchLoggingOptionOutput{ApplicationARN: aws.String(r.ARN), ApplicationVersionId: aws.Int64(r.State.Version),
		CloudWatchLoggingOptionDescriptions: r.Logging, OperationId: aws.String(opr.ID)}, nil
}

func (s *Server) updateMaintenance(_ context.Context, in *kda.UpdateApplicationMaintenanceConfigurationInput) (*kda.UpdateApplicationMaintenanceConfigurationOutput, error) {
	name := aws.ToString(in.ApplicationName)
	start := aws.ToString(in.ApplicationMaintenanceConfigurationUpdate.ApplicationMaintenanceWindowStartTimeUpdate)
	var arn string
	err := s.withApp(name, func(tx store.Tx, r *record, a *appRT) ([]lifecycle.Action, error) {
		r.Maintenance = start
		arn = r.ARN
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &kda.UpdateApplicationMaintenanceConfigurationOutput{ApplicationARN: aws.String(arn),
		ApplicationMaintenanceConfigurationDescription: maintenance(start)}, nil
}
