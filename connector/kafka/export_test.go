package kafka

import "github.com/twmb/franz-go/pkg/kgo"

// ClientOpts returns the franz-go options that reach c, for the tests' own clients.
func ClientOpts(c Cluster) []kgo.Opt { return c.opts() }
