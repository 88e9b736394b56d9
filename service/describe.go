package service

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"

	"github.com/runnel-io/runnel/service/lifecycle"
)

// detail returns the application as DescribeApplication shows it, at version v. With
// additional, the run configuration of its last start is included (IncludeAdditionalDetails).
func (s *Server) detail(r *record, v *version, additional bool) *types.ApplicationDetail {
	cfg, _ := cloneDescription(v.Config)
	if cfg != nil && cfg.FlinkApplicationConfigurationDescription != nil {
		if p := cfg.FlinkApplicationConfigurationDescription.ParallelismConfigurationDescription; p != nil && v.ID == r.State.Version {
			p.CurrentParallelism = aws.Int32(int32(r.State.Parallelism))
		}
	}
	if cfg != nil && additional {
		cfg.RunConfigurationDescription = &types.RunConfigurationDescription{
			ApplicationRestoreConfigurationDescription: &types.ApplicationRestoreConfiguration{
				ApplicationRestoreType: types.ApplicationRestoreType(orDefault(r.Restore.Mode, lifecycle.RestoreLatest))},
			FlinkRunConfigurationDescription: &types.FlinkRunConfiguration{AllowNonRestoredState: aws.Bool(r.Restore.AllowNonRestoredState)},
		}
		if r.Restore.Snapshot != "" {
			cfg.RunConfigurationDescription.ApplicationRestoreConfigurationDescription.SnapshotName = aws.String(r.Restore.Snapshot)
		}
	}
	d := &types.ApplicationDetail{
		ApplicationARN:                      aws.String(r.ARN),
		ApplicationName:                     aws.String(r.Name),
		ApplicationStatus:                   types.ApplicationStatus(r.State.Status),
		ApplicationVersionId:                aws.Int64(v.ID),
		RuntimeEnvironment:                  v.Runtime,
		ServiceExecutionRole:                aws.String(r.Role),
		ApplicationMode:                     r.Mode,
		CreateTimestamp:                     aws.Time(r.Created),
		LastUpdateTimestamp:                 aws.Time(r.Updated),
		ApplicationVersionCreateTimestamp:   aws.Time(v.Created),
		ApplicationConfigurationDescription: cfg,
		ConditionalToken:                    aws.String(r.Token),
		CloudWatchLoggingOptionDescriptions: v.Logging,
	}
	if v.ID == r.State.Version {
		d.CloudWatchLoggingOptionDescriptions = r.Logging
	}
	if r.Description != "" {
		d.ApplicationDescription = aws.String(r.Description)
	}
	if v.UpdatedFrom != 0 {
		d.ApplicationVersionUpdatedFrom = aws.Int64(v.UpdatedFrom)
	}
	if v.RolledBackFrom != 0 {
		d.ApplicationVersionRolledBackFrom = aws.Int64(v.RolledBackFrom)
		d.ApplicationVersionRolledBackTo = aws.Int64(v.RolledBackTo)
	}
	if r.Maintenance != "" {
		d.ApplicationMaintenanceConfigurationDescription = maintenance(r.Maintenance)
	}
	return d
}

// maintenance describes a maintenance window starting at start ("HH:MM"): 8 hours, as the
// service's.
func maintenance(start string) *types.ApplicationMaintenanceConfigurationDescription {
	var h, m int
	_, _ = fmt.Sscanf(start, "%d:%d", &h, &m)
	end := fmt.Sprintf("%02d:%02d", (h+8)%24, m)
	return &types.ApplicationMaintenanceConfigurationDescription{ApplicationMaintenanceWindowStartTime: aws.String(start),
		ApplicationMaintenanceWindowEndTime: aws.String(end)}
}

func snapshotDetails(rec snapshot) *types.SnapshotDetails {
	return &types.SnapshotDetails{SnapshotName: aws.String(rec.Name), SnapshotStatus: rec.Status,
		ApplicationVersionId: aws.Int64(rec.Version), RuntimeEnvironment: rec.Runtime, SnapshotCreationTimestamp: aws.Time(rec.Created)}
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return aws.Time(t)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
