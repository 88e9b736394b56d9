// Command kfake runs franz-go's in-memory Kafka (kfake) on 127.0.0.1 for the examples and
// local development; scripts/dev-servers.sh starts it. Its data lives in memory and goes with
// the process. Run it with
//
//	go run ./internal/testing/kafkatest/kfake [-port 9092] [-partitions 3] [-topics a,b]
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 9092, "listen on 127.0.0.1:`port`")
	partitions := flag.Int("partitions", 3, "partitions of the seeded and auto-created topics")
	topics := flag.String("topics", "logs,logs-enriched,logs-dead-letter", "comma-separated `topics` to create at start; others are created on first use")
	flag.Parse()
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(*port),
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, p, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			return net.Listen(network, net.JoinHostPort("127.0.0.1", p))
		}),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(*partitions),
	}
	if *topics != "" {
		opts = append(opts, kfake.SeedTopics(int32(*partitions), strings.Split(*topics, ",")...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		log.Fatalf("kfake: %v", err)
	}
	defer c.Close()
	fmt.Printf("kfake listening on %s\n", strings.Join(c.ListenAddrs(), ","))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}
