// Command runnel-example runs one of Runnel's example jobs as an application of the managed
// service: built as bootstrap and uploaded in a ZIP, it reads which example to run, and its
// arguments, from the application's runtime properties, the way a Managed Flink application
// reads its configuration.
//
// The property group "example" holds the example's name under "name" (iot, clickstream,
// arbitrage, retail, kafka-logs, kinesis-clicks, s3-backfill; default iot) and any flag of
// `runnel run` for examples under its name without dashes ("rate", "events", "output",
// "kafka-brokers", ...). Without "output" the results are printed, into the application's log.
//
//	GOOS=linux go build -o bootstrap ./cmd/runnel-example
//	runnel apps create iot --bootstrap ./bootstrap --property example.name=iot --property example.rate=200
//
// The server starts it with the flags of app.Options (parallelism, checkpoints, restore, REST
// address), which app.Main parses as for any program of yours.
package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/runnel-io/runnel/app"
	"github.com/runnel-io/runnel/examples"
	"github.com/runnel-io/runnel/stream"
)

func main() {
	name, args, err := fromProperties()
	if err != nil {
		fmt.Fprintf(os.Stderr, "runnel-example: %v\n", err)
		os.Exit(2)
	}
	ex, _ := examples.Lookup(name)
	app.Main(name, func(env *stream.Env) error {
		return ex.Build(context.Background(), env, args)
	})
}

// fromProperties returns the example named by the property group "example", with its arguments
// parsed from the group's other keys as `runnel run` parses its flags.
func fromProperties() (string, examples.Args, error) {
	props, err := app.Properties()
	if err != nil {
		return "", examples.Args{}, err
	}
	group := props["example"]
	name := group["name"]
	if name == "" {
		name = "iot"
	}
	if _, ok := examples.Lookup(name); !ok {
		return "", examples.Args{}, fmt.Errorf("property example.name %q: no such example (known: %s)", name, strings.Join(examples.Names(), ", "))
	}
	a := examples.DefaultArgs()
	a.Stdout = os.Stdout
	fs := pflag.NewFlagSet("example", pflag.ContinueOnError)
	fs.SetOutput(nopWriter{})
	a.AddFlags(fs)
	var flags []string
	for k, v := range group {
		if k != "name" {
			flags = append(flags, "--"+k+"="+v)
		}
	}
	slices.Sort(flags)
	if err := fs.Parse(flags); err != nil {
		return "", examples.Args{}, fmt.Errorf("property group example: %v", err)
	}
	if err := a.Validate(); err != nil {
		return "", examples.Args{}, fmt.Errorf("property group example: %v", err)
	}
	return name, a, nil
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
