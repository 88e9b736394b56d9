package client

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kda "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
)

// DefaultRuntime is the runtime environment applications are created with: the newest Flink
// version the API names, whose semantics Runnel follows.
const DefaultRuntime = types.RuntimeEnvironmentFlink120

// defaultRole is the service execution role sent when none is given: the API requires one, and
// Runnel runs applications as the server's own user.
const defaultRole = "arn:aws:iam::123456789012:role/runnel"

// Code is an application's code: a ZIP holding an executable named bootstrap at its root (see
// Package), given inline or as an object in S3. The zero Code is no code (an update that
// keeps the current one).
type Code struct {
	// Zip is the ZIP itself.
	Zip []byte
	// S3Bucket and S3Key name the ZIP in S3, read by the server.
	S3Bucket, S3Key string
}

func (c Code) empty() bool { return c.Zip == nil && c.S3Bucket == "" }

func (c Code) content() *types.CodeContent {
	if c.Zip != nil {
		return &types.CodeContent{ZipFileContent: c.Zip}
	}
	return &types.CodeContent{S3ContentLocation: &types.S3ContentLocation{
		BucketARN: aws.String("arn:aws:s3:::" + c.S3Bucket), FileKey: aws.String(c.S3Key)}}
}

func (c Code) update() *types.CodeContentUpdate {
	if c.Zip != nil {
		return &types.CodeContentUpdate{ZipFileContentUpdate: c.Zip}
	}
	return &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{
		BucketARNUpdate: aws.String("arn:aws:s3:::" + c.S3Bucket), FileKeyUpdate: aws.String(c.S3Key)}}
}

// Settings are what `runnel apps create` and `update` configure. A zero field is the service's
// default on create and the current value on update.
type Settings struct {
	// Parallelism and ParallelismPerKPU size the application (KPUs = Parallelism ÷
	// ParallelismPerKPU, rounded up); AutoScaling lets the server change Parallelism.
	Parallelism, ParallelismPerKPU int32
	AutoScaling                    *bool
	// Checkpoints turns checkpointing on or off; CheckpointInterval and MinPause set its
	// timing (whole milliseconds).
	Checkpoints                  *bool
	CheckpointInterval, MinPause time.Duration
	// Snapshots turns snapshots on or off (a stop takes one when on).
	Snapshots *bool
	// Properties, if not nil, are all of the application's property groups (group → key →
	// value), which the application reads with app.Properties.
	Properties map[string]map[string]string
}

func (s Settings) customParallelism() bool {
	return s.Parallelism != 0 || s.ParallelismPerKPU != 0 || s.AutoScaling != nil
}

func (s Settings) customCheckpoints() bool {
	return s.Checkpoints != nil || s.CheckpointInterval != 0 || s.MinPause != 0
}

func (s Settings) propertyGroups() []types.PropertyGroup {
	groups := []types.PropertyGroup{}
	for _, id := range sortedKeys(s.Properties) {
		groups = append(groups, types.PropertyGroup{PropertyGroupId: aws.String(id), PropertyMap: s.Properties[id]})
	}
	return groups
}

func millis(d time.Duration) *int64 {
	if d == 0 {
		return nil
	}
	return aws.Int64(d.Milliseconds())
}

func int32p(v int32) *int32 {
	if v == 0 {
		return nil
	}
	return aws.Int32(v)
}

// Create creates the application name from code, configured by s, and returns its description.
// runtime is the runtime environment it is declared for; empty is DefaultRuntime.
func (c *Client) Create(ctx context.Context, name, runtime, description string, code Code, s Settings) (*types.ApplicationDetail, error) {
	if code.empty() {
		return nil, fmt.Errorf("create %s: no code", name)
	}
	if runtime == "" {
		runtime = string(DefaultRuntime)
	}
	cfg := &types.ApplicationConfiguration{
		ApplicationCodeConfiguration: &types.ApplicationCodeConfiguration{
			CodeContentType: types.CodeContentTypeZipfile, CodeContent: code.content()},
		FlinkApplicationConfiguration: &types.FlinkApplicationConfiguration{},
	}
	if s.customParallelism() {
		cfg.FlinkApplicationConfiguration.ParallelismConfiguration = &types.ParallelismConfiguration{
			ConfigurationType: types.ConfigurationTypeCustom, Parallelism: int32p(s.Parallelism),
			ParallelismPerKPU: int32p(s.ParallelismPerKPU), AutoScalingEnabled: s.AutoScaling}
	}
	if s.customCheckpoints() {
		cfg.FlinkApplicationConfiguration.CheckpointConfiguration = &types.CheckpointConfiguration{
			ConfigurationType: types.ConfigurationTypeCustom, CheckpointingEnabled: s.Checkpoints,
			CheckpointInterval: millis(s.CheckpointInterval), MinPauseBetweenCheckpoints: millis(s.MinPause)}
	}
	if s.Snapshots != nil {
		cfg.ApplicationSnapshotConfiguration = &types.ApplicationSnapshotConfiguration{SnapshotsEnabled: s.Snapshots}
	}
	if s.Properties != nil {
		cfg.EnvironmentProperties = &types.EnvironmentProperties{PropertyGroups: s.propertyGroups()}
	}
	in := &kda.CreateApplicationInput{
		ApplicationName: aws.String(name), RuntimeEnvironment: types.RuntimeEnvironment(runtime),
		ServiceExecutionRole: aws.String(defaultRole), ApplicationConfiguration: cfg,
	}
	if description != "" {
		in.ApplicationDescription = aws.String(description)
	}
	out, err := c.API.CreateApplication(ctx, in)
	if err != nil {
		return nil, c.short(err)
	}
	return out.ApplicationDetail, nil
}

// Update applies code (unless empty) and s to the current version of application name and
// returns the update's operation ID. A running application takes a snapshot, stops and starts
// from it on the new version.
func (c *Client) Update(ctx context.Context, name string, code Code, s Settings) (string, error) {
	cur, err := c.Describe(ctx, name)
	if err != nil {
		return "", err
	}
	u := &types.ApplicationConfigurationUpdate{}
	if !code.empty() {
		u.ApplicationCodeConfigurationUpdate = &types.ApplicationCodeConfigurationUpdate{
			CodeContentTypeUpdate: types.CodeContentTypeZipfile, CodeContentUpdate: code.update()}
	}
	var flink types.FlinkApplicationConfigurationUpdate
	if s.customParallelism() {
		flink.ParallelismConfigurationUpdate = &types.ParallelismConfigurationUpdate{
			ConfigurationTypeUpdate: types.ConfigurationTypeCustom, ParallelismUpdate: int32p(s.Parallelism),
			ParallelismPerKPUUpdate: int32p(s.ParallelismPerKPU), AutoScalingEnabledUpdate: s.AutoScaling}
		u.FlinkApplicationConfigurationUpdate = &flink
	}
	if s.customCheckpoints() {
		flink.CheckpointConfigurationUpdate = &types.CheckpointConfigurationUpdate{
			ConfigurationTypeUpdate: types.ConfigurationTypeCustom, CheckpointingEnabledUpdate: s.Checkpoints,
			CheckpointIntervalUpdate: millis(s.CheckpointInterval), MinPauseBetweenCheckpointsUpdate: millis(s.MinPause)}
		u.FlinkApplicationConfigurationUpdate = &flink
	}
	if s.Snapshots != nil {
		u.ApplicationSnapshotConfigurationUpdate = &types.ApplicationSnapshotConfigurationUpdate{SnapshotsEnabledUpdate: s.Snapshots}
	}
	if s.Properties != nil {
		u.EnvironmentPropertyUpdates = &types.EnvironmentPropertyUpdates{PropertyGroups: s.propertyGroups()}
	}
	out, err := c.API.UpdateApplication(ctx, &kda.UpdateApplicationInput{
		ApplicationName: aws.String(name), CurrentApplicationVersionId: cur.ApplicationVersionId,
		ApplicationConfigurationUpdate: u,
	})
	if err != nil {
		return "", c.short(err)
	}
	return aws.ToString(out.OperationId), nil
}

// Properties returns the property groups of d (group → key → value).
func Properties(d *types.ApplicationDetail) map[string]map[string]string {
	out := map[string]map[string]string{}
	if cfg := d.ApplicationConfigurationDescription; cfg != nil && cfg.EnvironmentPropertyDescriptions != nil {
		for _, g := range cfg.EnvironmentPropertyDescriptions.PropertyGroupDescriptions {
			m := map[string]string{}
			for k, v := range g.PropertyMap {
				m[k] = v
			}
			out[aws.ToString(g.PropertyGroupId)] = m
		}
	}
	return out
}

// Restore modes of Start, besides a snapshot's name.
const (
	RestoreLatest = "latest" // the latest snapshot (the service's default)
	RestoreNone   = "none"   // no snapshot: a fresh start
)

// Start starts application name, from the snapshot restore names (RestoreLatest, RestoreNone or
// a snapshot's name; empty is RestoreLatest), and returns the start's operation ID.
// allowNonRestored lets state that no operator of the job claims be dropped.
func (c *Client) Start(ctx context.Context, name, restore string, allowNonRestored bool) (string, error) {
	rc := &types.ApplicationRestoreConfiguration{ApplicationRestoreType: types.ApplicationRestoreTypeRestoreFromLatestSnapshot}
	switch restore {
	case "", RestoreLatest:
	case RestoreNone:
		rc.ApplicationRestoreType = types.ApplicationRestoreTypeSkipRestoreFromSnapshot
	default:
		rc.ApplicationRestoreType = types.ApplicationRestoreTypeRestoreFromCustomSnapshot
		rc.SnapshotName = aws.String(restore)
	}
	out, err := c.API.StartApplication(ctx, &kda.StartApplicationInput{
		ApplicationName: aws.String(name),
		RunConfiguration: &types.RunConfiguration{
			ApplicationRestoreConfiguration: rc,
			FlinkRunConfiguration:           &types.FlinkRunConfiguration{AllowNonRestoredState: aws.Bool(allowNonRestored)},
		},
	})
	if err != nil {
		return "", c.short(err)
	}
	return aws.ToString(out.OperationId), nil
}

// Stop stops application name (taking a snapshot first when snapshots are on, unless force)
// and returns the stop's operation ID.
func (c *Client) Stop(ctx context.Context, name string, force bool) (string, error) {
	out, err := c.API.StopApplication(ctx, &kda.StopApplicationInput{ApplicationName: aws.String(name), Force: aws.Bool(force)})
	if err != nil {
		return "", c.short(err)
	}
	return aws.ToString(out.OperationId), nil
}

// Rollback brings application name back to its previous version and returns the rollback's
// operation ID.
func (c *Client) Rollback(ctx context.Context, name string) (string, error) {
	cur, err := c.Describe(ctx, name)
	if err != nil {
		return "", err
	}
	out, err := c.API.RollbackApplication(ctx, &kda.RollbackApplicationInput{
		ApplicationName: aws.String(name), CurrentApplicationVersionId: cur.ApplicationVersionId})
	if err != nil {
		return "", c.short(err)
	}
	return aws.ToString(out.OperationId), nil
}

// Delete deletes application name, with its snapshots and versions.
func (c *Client) Delete(ctx context.Context, name string) error {
	cur, err := c.Describe(ctx, name)
	if err != nil {
		return err
	}
	_, err = c.API.DeleteApplication(ctx, &kda.DeleteApplicationInput{ApplicationName: aws.String(name), CreateTimestamp: cur.CreateTimestamp})
	return c.short(err)
}

// Describe returns application name's description, with its additional details.
func (c *Client) Describe(ctx context.Context, name string) (*types.ApplicationDetail, error) {
	out, err := c.API.DescribeApplication(ctx, &kda.DescribeApplicationInput{ApplicationName: aws.String(name), IncludeAdditionalDetails: aws.Bool(true)})
	if err != nil {
		return nil, c.short(err)
	}
	return out.ApplicationDetail, nil
}

// List returns every application, in the server's order (by name).
func (c *Client) List(ctx context.Context) ([]types.ApplicationSummary, error) {
	var all []types.ApplicationSummary
	p := kda.NewListApplicationsPaginator(c.API, &kda.ListApplicationsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.short(err)
		}
		all = append(all, out.ApplicationSummaries...)
	}
	return all, nil
}

// CreateSnapshot starts a snapshot called snapshot of running application name; it is READY
// when DescribeSnapshot says so (WaitSnapshot).
func (c *Client) CreateSnapshot(ctx context.Context, name, snapshot string) error {
	_, err := c.API.CreateApplicationSnapshot(ctx, &kda.CreateApplicationSnapshotInput{ApplicationName: aws.String(name), SnapshotName: aws.String(snapshot)})
	return c.short(err)
}

// DescribeSnapshot returns the details of snapshot of application name.
func (c *Client) DescribeSnapshot(ctx context.Context, name, snapshot string) (*types.SnapshotDetails, error) {
	out, err := c.API.DescribeApplicationSnapshot(ctx, &kda.DescribeApplicationSnapshotInput{ApplicationName: aws.String(name), SnapshotName: aws.String(snapshot)})
	if err != nil {
		return nil, c.short(err)
	}
	return out.SnapshotDetails, nil
}

// DeleteSnapshot deletes snapshot of application name.
func (c *Client) DeleteSnapshot(ctx context.Context, name, snapshot string) error {
	d, err := c.DescribeSnapshot(ctx, name, snapshot)
	if err != nil {
		return err
	}
	_, err = c.API.DeleteApplicationSnapshot(ctx, &kda.DeleteApplicationSnapshotInput{ApplicationName: aws.String(name),
		SnapshotName: aws.String(snapshot), SnapshotCreationTimestamp: d.SnapshotCreationTimestamp})
	return c.short(err)
}

// Snapshots returns the snapshots of application name.
func (c *Client) Snapshots(ctx context.Context, name string) ([]types.SnapshotDetails, error) {
	var all []types.SnapshotDetails
	p := kda.NewListApplicationSnapshotsPaginator(c.API, &kda.ListApplicationSnapshotsInput{ApplicationName: aws.String(name)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.short(err)
		}
		all = append(all, out.SnapshotSummaries...)
	}
	return all, nil
}

// Versions returns the versions of application name, newest first.
func (c *Client) Versions(ctx context.Context, name string) ([]types.ApplicationVersionSummary, error) {
	var all []types.ApplicationVersionSummary
	p := kda.NewListApplicationVersionsPaginator(c.API, &kda.ListApplicationVersionsInput{ApplicationName: aws.String(name)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.short(err)
		}
		all = append(all, out.ApplicationVersionSummaries...)
	}
	return all, nil
}

// Version returns version id of application name.
func (c *Client) Version(ctx context.Context, name string, id int64) (*types.ApplicationDetail, error) {
	out, err := c.API.DescribeApplicationVersion(ctx, &kda.DescribeApplicationVersionInput{ApplicationName: aws.String(name), ApplicationVersionId: aws.Int64(id)})
	if err != nil {
		return nil, c.short(err)
	}
	return out.ApplicationVersionDetail, nil
}

// Operations returns the operations of application name, newest first.
func (c *Client) Operations(ctx context.Context, name string) ([]types.ApplicationOperationInfo, error) {
	var all []types.ApplicationOperationInfo
	p := kda.NewListApplicationOperationsPaginator(c.API, &kda.ListApplicationOperationsInput{ApplicationName: aws.String(name)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.short(err)
		}
		all = append(all, out.ApplicationOperationInfoList...)
	}
	return all, nil
}

// Operation returns operation id of application name.
func (c *Client) Operation(ctx context.Context, name, id string) (*types.ApplicationOperationInfoDetails, error) {
	out, err := c.API.DescribeApplicationOperation(ctx, &kda.DescribeApplicationOperationInput{ApplicationName: aws.String(name), OperationId: aws.String(id)})
	if err != nil {
		return nil, c.short(err)
	}
	return out.ApplicationOperationInfoDetails, nil
}

// OperationError is an operation that ended FAILED (or CANCELLED).
type OperationError struct {
	Operation, ID string
	Status        types.OperationStatus
	// Cause is the failure's message; RollbackOperationID the system rollback that followed,
	// if any.
	Cause, RollbackOperationID string
}

func (e *OperationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", strings.ToLower(e.Operation), e.ID, strings.ToLower(string(e.Status)))
	if e.Cause != "" {
		b.WriteString(": " + e.Cause)
	}
	if e.RollbackOperationID != "" {
		fmt.Fprintf(&b, " (the previous version was restored by rollback %s)", e.RollbackOperationID)
	}
	return b.String()
}

// operationError returns d as an *OperationError, or nil if it succeeded.
func operationError(id string, d *types.ApplicationOperationInfoDetails) error {
	if d.OperationStatus == types.OperationStatusSuccessful {
		return nil
	}
	e := &OperationError{Operation: aws.ToString(d.Operation), ID: id, Status: d.OperationStatus}
	if f := d.OperationFailureDetails; f != nil {
		e.RollbackOperationID = aws.ToString(f.RollbackOperationId)
		if f.ErrorInfo != nil {
			e.Cause = aws.ToString(f.ErrorInfo.ErrorString)
		}
	}
	return e
}
