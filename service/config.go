package service

import (
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"

	"github.com/runnel-io/runnel/service/awsjson"
)

// An application version's configuration is stored as the service shows it: the SDK's
// ApplicationConfigurationDescription. CreateApplication's configuration becomes one (with
// the service's defaults filled in), UpdateApplication's update changes one into the next
// version's, and settings reads what a process needs from one.

// The service's defaults (Managed Flink's DEFAULT configuration types).
const (
	defaultCheckpointInterval = 60_000 // ms
	defaultMinPause           = 5_000  // ms
	defaultParallelism        = 1
	defaultParallelismPerKPU  = 1
	// maxParallelism bounds an application's parallelism (the engine's key groups).
	maxParallelism = 128
)

func invalidArg(format string, args ...any) error {
	return awsjson.Errorf("InvalidArgumentException", format, args...)
}

func unsupported(format string, args ...any) error {
	return awsjson.Errorf("UnsupportedOperationException", format, args...)
}

// checkRuntime refuses the runtimes Runnel does not run.
func checkRuntime(r types.RuntimeEnvironment) error {
	switch {
	case r == types.RuntimeEnvironmentSql10:
		return unsupported("RuntimeEnvironment SQL-1_0: the SQL-v1 runtime is retired by the service; write a Flink application (FLINK-1_x) instead")
	case len(r) > 6 && r[:6] == "FLINK-":
		return nil
	}
	return unsupported("RuntimeEnvironment %s: Runnel runs Flink applications (FLINK-1_x)", r)
}

// newDescription makes the first version's configuration from CreateApplication's.
func newDescription(cfg *types.ApplicationConfiguration, code *types.ApplicationCodeConfigurationDescription) (*types.ApplicationConfigurationDescription, error) {
	if cfg == nil {
		cfg = &types.ApplicationConfiguration{}
	}
	if err := refuseUnsupported(cfg.SqlApplicationConfiguration != nil, cfg.ZeppelinApplicationConfiguration != nil, len(cfg.VpcConfigurations) > 0, cfg.ApplicationEncryptionConfiguration != nil); err != nil {
		return nil, err
	}
	d := &types.ApplicationConfigurationDescription{
		ApplicationCodeConfigurationDescription: code,
		ApplicationSnapshotConfigurationDescription: &types.ApplicationSnapshotConfigurationDescription{
			SnapshotsEnabled: aws.Bool(true)},
		ApplicationSystemRollbackConfigurationDescription: &types.ApplicationSystemRollbackConfigurationDescription{
			RollbackEnabled: aws.Bool(false)},
		EnvironmentPropertyDescriptions: &types.EnvironmentPropertyDescriptions{},
		FlinkApplicationConfigurationDescription: &types.FlinkApplicationConfigurationDescription{
			CheckpointConfigurationDescription:  defaultCheckpoints(),
			ParallelismConfigurationDescription: defaultParallelismConfig(),
			MonitoringConfigurationDescription: &types.MonitoringConfigurationDescription{
				ConfigurationType: types.ConfigurationTypeDefault, LogLevel: types.LogLevelInfo, MetricsLevel: types.MetricsLevelApplication},
		},
	}
	if s := cfg.ApplicationSnapshotConfiguration; s != nil && s.SnapshotsEnabled != nil {
		d.ApplicationSnapshotConfigurationDescription.SnapshotsEnabled = s.SnapshotsEnabled
	}
	if r := cfg.ApplicationSystemRollbackConfiguration; r != nil && r.RollbackEnabled != nil {
		d.ApplicationSystemRollbackConfigurationDescription.RollbackEnabled = r.RollbackEnabled
	}
	if e := cfg.EnvironmentProperties; e != nil {
		if err := checkPropertyGroups(e.PropertyGroups); err != nil {
			return nil, err
		}
		d.EnvironmentPropertyDescriptions.PropertyGroupDescriptions = e.PropertyGroups
	}
	if f := cfg.FlinkApplicationConfiguration; f != nil {
		fd := d.FlinkApplicationConfigurationDescription
		if c := f.CheckpointConfiguration; c != nil {
			fd.CheckpointConfigurationDescription = checkpointsOf(c.ConfigurationType, c.CheckpointingEnabled, c.CheckpointInterval, c.MinPauseBetweenCheckpoints, fd.CheckpointConfigurationDescription)
		}
		if p := f.ParallelismConfiguration; p != nil {
			pd, err := parallelismOf(p.ConfigurationType, p.Parallelism, p.ParallelismPerKPU, p.AutoScalingEnabled, fd.ParallelismConfigurationDescription)
			if err != nil {
				return nil, err
			}
			fd.ParallelismConfigurationDescription = pd
		}
		if m := f.MonitoringConfiguration; m != nil {
			fd.MonitoringConfigurationDescription = &types.MonitoringConfigurationDescription{ConfigurationType: m.ConfigurationType, LogLevel: m.LogLevel, MetricsLevel: m.MetricsLevel}
		}
	}
	return d, nil
}

func refuseUnsupported(sql, zeppelin, vpc, encryption bool) error {
	switch {
	case sql:
		return unsupported("SqlApplicationConfiguration: the SQL-v1 runtime is retired by the service; Runnel runs Flink applications")
	case zeppelin:
		return unsupported("ZeppelinApplicationConfiguration: Studio notebooks (INTERACTIVE mode) are not supported")
	case vpc:
		return unsupported("VpcConfigurations: applications run on the server's network; there is no VPC to attach")
	case encryption:
		return unsupported("ApplicationEncryptionConfiguration: snapshots are stored unencrypted by Runnel (encrypt the data directory or bucket instead)")
	}
	return nil
}

func defaultCheckpoints() *types.CheckpointConfigurationDescription {
	return &types.CheckpointConfigurationDescription{ConfigurationType: types.ConfigurationTypeDefault,
		CheckpointingEnabled: aws.Bool(true), CheckpointInterval: aws.Int64(defaultCheckpointInterval),
		MinPauseBetweenCheckpoints: aws.Int64(defaultMinPause)}
}

func defaultParallelismConfig() *types.ParallelismConfigurationDescription {
	return &types.ParallelismConfigurationDescription{ConfigurationType: types.ConfigurationTypeDefault,
		Parallelism: aws.Int32(defaultParallelism), ParallelismPerKPU: aws.Int32(defaultParallelismPerKPU),
		CurrentParallelism: aws.Int32(defaultParallelism), AutoScalingEnabled: aws.Bool(false)}
}

// checkpointsOf applies a checkpoint configuration (or its update) to cur: DEFAULT takes the
// service's values whatever else is given; CUSTOM takes the given fields over cur's.
func checkpointsOf(typ types.ConfigurationType, enabled *bool, interval, minPause *int64, cur *types.CheckpointConfigurationDescription) *types.CheckpointConfigurationDescription {
	if typ == "" {
		typ = cur.ConfigurationType
	}
	if typ == types.ConfigurationTypeDefault {
		return defaultCheckpoints()
	}
	out := *cur
	out.ConfigurationType = typ
	if enabled != nil {
		out.CheckpointingEnabled = enabled
	}
	if interval != nil {
		out.CheckpointInterval = interval
	}
	if minPause != nil {
		out.MinPauseBetweenCheckpoints = minPause
	}
	return &out
}

func parallelismOf(typ types.ConfigurationType, p, perKPU *int32, autoscaling *bool, cur *types.ParallelismConfigurationDescription) (*types.ParallelismConfigurationDescription, error) {
	if typ == "" {
		typ = cur.ConfigurationType
	}
	if typ == types.ConfigurationTypeDefault {
		d := defaultParallelismConfig()
		d.AutoScalingEnabled = aws.Bool(true)
		return d, nil
	}
	out := *cur
	out.ConfigurationType = typ
	if p != nil {
		out.Parallelism, out.CurrentParallelism = p, p
	}
	if perKPU != nil {
		out.ParallelismPerKPU = perKPU
	}
	if autoscaling != nil {
		out.AutoScalingEnabled = autoscaling
	}
	if n := aws.ToInt32(out.Parallelism); n > maxParallelism {
		return nil, invalidArg("ParallelismConfiguration.Parallelism: %d is above Runnel's maximum of %d", n, maxParallelism)
	}
	return &out, nil
}

func checkPropertyGroups(groups []types.PropertyGroup) error {
	seen := map[string]bool{}
	for _, g := range groups {
		id := aws.ToString(g.PropertyGroupId)
		if seen[id] {
			return invalidArg("EnvironmentProperties.PropertyGroups: the group %q is given twice", id)
		}
		seen[id] = true
	}
	return nil
}

// applyUpdate returns the next version's configuration: d with UpdateApplication's update u
// applied. code is the new code's description, when the update changes the code.
func applyUpdate(d *types.ApplicationConfigurationDescription, u *types.ApplicationConfigurationUpdate, code *types.ApplicationCodeConfigurationDescription) (*types.ApplicationConfigurationDescription, error) {
	next, err := cloneDescription(d)
	if err != nil {
		return nil, err
	}
	if code != nil {
		next.ApplicationCodeConfigurationDescription = code
	}
	if u == nil {
		return next, nil
	}
	if err := refuseUnsupported(u.SqlApplicationConfigurationUpdate != nil, u.ZeppelinApplicationConfigurationUpdate != nil, len(u.VpcConfigurationUpdates) > 0, u.ApplicationEncryptionConfigurationUpdate != nil); err != nil {
		return nil, err
	}
	if s := u.ApplicationSnapshotConfigurationUpdate; s != nil && s.SnapshotsEnabledUpdate != nil {
		next.ApplicationSnapshotConfigurationDescription = &types.ApplicationSnapshotConfigurationDescription{SnapshotsEnabled: s.SnapshotsEnabledUpdate}
	}
	if r := u.ApplicationSystemRollbackConfigurationUpdate; r != nil && r.RollbackEnabledUpdate != nil {
		next.ApplicationSystemRollbackConfigurationDescription = &types.ApplicationSystemRollbackConfigurationDescription{RollbackEnabled: r.RollbackEnabledUpdate}
	}
	if e := u.EnvironmentPropertyUpdates; e != nil {
		// The update replaces every property group, as the service's does.
		if err := checkPropertyGroups(e.PropertyGroups); err != nil {
			return nil, err
		}
		next.EnvironmentPropertyDescriptions = &types.EnvironmentPropertyDescriptions{PropertyGroupDescriptions: e.PropertyGroups}
	}
	if f := u.FlinkApplicationConfigurationUpdate; f != nil {
		fd := next.FlinkApplicationConfigurationDescription
		if c := f.CheckpointConfigurationUpdate; c != nil {
			fd.CheckpointConfigurationDescription = checkpointsOf(c.ConfigurationTypeUpdate, c.CheckpointingEnabledUpdate, c.CheckpointIntervalUpdate, c.MinPauseBetweenCheckpointsUpdate, fd.CheckpointConfigurationDescription)
		}
		if p := f.ParallelismConfigurationUpdate; p != nil {
			pd, err := parallelismOf(p.ConfigurationTypeUpdate, p.ParallelismUpdate, p.ParallelismPerKPUUpdate, p.AutoScalingEnabledUpdate, fd.ParallelismConfigurationDescription)
			if err != nil {
				return nil, err
			}
			fd.ParallelismConfigurationDescription = pd
		}
		if m := f.MonitoringConfigurationUpdate; m != nil {
			md := *fd.MonitoringConfigurationDescription
			if m.ConfigurationTypeUpdate != "" {
				md.ConfigurationType = m.ConfigurationTypeUpdate
			}
			if m.LogLevelUpdate != "" {
				md.LogLevel = m.LogLevelUpdate
			}
			if m.MetricsLevelUpdate != "" {
				md.MetricsLevel = m.MetricsLevelUpdate
			}
			fd.MonitoringConfigurationDescription = &md
		}
	}
	return next, nil
}

// cloneDescription deep-copies d through its wire form.
func cloneDescription(d *types.ApplicationConfigurationDescription) (*types.ApplicationConfigurationDescription, error) {
	b, err := awsjson.Marshal(d)
	if err != nil {
		return nil, err
	}
	out := &types.ApplicationConfigurationDescription{}
	if err := awsjson.Unmarshal(b, out); err != nil {
		return nil, err
	}
	return out, nil
}

// settings is what a process of a version needs from its configuration.
type settings struct {
	checkpointing   bool
	interval, pause time.Duration
	parallelism     int
	perKPU          int
	autoscaling     bool
	snapshots       bool
	rollback        bool
	properties      []types.PropertyGroup
	codeType        types.CodeContentType
}

func settingsOf(d *types.ApplicationConfigurationDescription) settings {
	s := settings{checkpointing: true, interval: defaultCheckpointInterval * time.Millisecond, pause: defaultMinPause * time.Millisecond,
		parallelism: defaultParallelism, perKPU: defaultParallelismPerKPU, snapshots: true}
	if f := d.FlinkApplicationConfigurationDescription; f != nil {
		if c := f.CheckpointConfigurationDescription; c != nil {
			s.checkpointing = aws.ToBool(c.CheckpointingEnabled)
			s.interval = time.Duration(aws.ToInt64(c.CheckpointInterval)) * time.Millisecond
			s.pause = time.Duration(aws.ToInt64(c.MinPauseBetweenCheckpoints)) * time.Millisecond
		}
		if p := f.ParallelismConfigurationDescription; p != nil {
			s.parallelism = int(max(1, aws.ToInt32(p.Parallelism)))
			s.perKPU = int(max(1, aws.ToInt32(p.ParallelismPerKPU)))
			s.autoscaling = aws.ToBool(p.AutoScalingEnabled)
		}
	}
	if sn := d.ApplicationSnapshotConfigurationDescription; sn != nil {
		s.snapshots = aws.ToBool(sn.SnapshotsEnabled)
	}
	if r := d.ApplicationSystemRollbackConfigurationDescription; r != nil {
		s.rollback = aws.ToBool(r.RollbackEnabled)
	}
	if e := d.EnvironmentPropertyDescriptions; e != nil {
		s.properties = slices.Clone(e.PropertyGroupDescriptions)
	}
	if c := d.ApplicationCodeConfigurationDescription; c != nil {
		s.codeType = c.CodeContentType
	}
	return s
}

// kpus returns the KPUs a process at parallelism p with perKPU parallel tasks per KPU uses:
// Managed Flink's ceil(parallelism / parallelismPerKPU).
func kpus(p, perKPU int) int { return (p + perKPU - 1) / perKPU }

func (s settings) String() string {
	return fmt.Sprintf("parallelism %d (%d per KPU), checkpoints %t every %v", s.parallelism, s.perKPU, s.checkpointing, s.interval)
}
