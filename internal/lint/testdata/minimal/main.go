// Command minimal is the smallest Runnel program: three records through Print. Its binary
// shows what a program that imports only package stream links (internal/lint's
// TestMinimalProgram builds it).
package main

import (
	"context"
	"log"

	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
)

func main() {
	env := stream.New("minimal", stream.Config{})
	stream.FromSlice(env, []int{1, 2, 3}, eventtime.Monotonous(func(int) int64 { return 0 })).Print()
	if err := env.Execute(context.Background()); err != nil {
		log.Fatal(err)
	}
}
