// Command modelgen writes service/api/model_gen.go, the request constraints of the Managed
// Flink API (kinesisanalyticsv2, 2018-05-23) as tables, from botocore's service model, which
// the AWS CLI ships:
//
//	go run ./service/api/internal/modelgen [-model service-2.json] [-out service/api/model_gen.go]
//
// See package model for what the tables hold.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"os"

	"github.com/runnel-io/runnel/service/api/internal/model"
)

func main() {
	in := flag.String("model", model.DefaultModel, "botocore service-2.json of kinesisanalyticsv2")
	out := flag.String("out", "service/api/model_gen.go", "file to write")
	flag.Parse()
	data, err := os.ReadFile(*in)
	if err != nil {
		log.Fatalf("modelgen: %v (install the AWS CLI v2: apt-get install awscli)", err)
	}
	var m model.Model
	if err := json.Unmarshal(data, &m); err != nil {
		log.Fatalf("modelgen: %s: %v", *in, err)
	}
	src, err := model.Generate(&m)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}
