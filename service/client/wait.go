package client

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
)

// The API has no notifications: a client learns that an operation ended by asking. Waits poll
// every pollMin at first, backing off to pollMax, so that a start that takes a second is seen
// within a tenth of one and a long one costs a request a second.
const (
	pollMin = 100 * time.Millisecond
	pollMax = time.Second
)

// poll calls check until it reports done or fails, or ctx ends.
func poll(ctx context.Context, check func() (done bool, err error)) error {
	delay := pollMin
	for {
		done, err := check()
		if done || err != nil {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(delay*3/2, pollMax)
	}
}

// WaitOperation waits until operation id of application name ends and returns nil if it
// succeeded, or an *OperationError saying why not. progress, if set, is called with each new
// status of the application while waiting.
func (c *Client) WaitOperation(ctx context.Context, name, id string, progress func(status string)) error {
	var last string
	var details *types.ApplicationOperationInfoDetails
	err := poll(ctx, func() (bool, error) {
		if progress != nil {
			if d, err := c.Describe(ctx, name); err == nil && string(d.ApplicationStatus) != last {
				last = string(d.ApplicationStatus)
				progress(last)
			}
		}
		d, err := c.Operation(ctx, name, id)
		if err != nil {
			return false, err
		}
		details = d
		return d.OperationStatus != types.OperationStatusInProgress, nil
	})
	if err != nil {
		return err
	}
	return operationError(id, details)
}

// WaitSnapshot waits until snapshot of application name is READY, and fails if it FAILED.
func (c *Client) WaitSnapshot(ctx context.Context, name, snapshot string) (*types.SnapshotDetails, error) {
	var d *types.SnapshotDetails
	err := poll(ctx, func() (bool, error) {
		var err error
		if d, err = c.DescribeSnapshot(ctx, name, snapshot); err != nil {
			return false, err
		}
		switch d.SnapshotStatus {
		case types.SnapshotStatusReady:
			return true, nil
		case types.SnapshotStatusFailed:
			return false, fmt.Errorf("snapshot %s of %s failed (see 'runnel apps logs %s')", snapshot, name, name)
		}
		return false, nil
	})
	return d, err
}

// WaitDeleted waits until application name no longer exists.
func (c *Client) WaitDeleted(ctx context.Context, name string) error {
	return poll(ctx, func() (bool, error) {
		_, err := c.Describe(ctx, name)
		if IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}
