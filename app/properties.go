package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// PropertiesEnv names the environment variable that holds the path of the application's
// properties file, which the managed service (runnel server) writes from the application's
// EnvironmentProperties before it starts the process.
const PropertiesEnv = "RUNNEL_APPLICATION_PROPERTIES"

// Properties returns the application's runtime properties by property group, as Managed
// Flink delivers them (its KinesisAnalyticsRuntime.getApplicationProperties): the file
// application_properties.json, a JSON list of {"PropertyGroupId": ..., "PropertyMap": {...}},
// at the path $RUNNEL_APPLICATION_PROPERTIES. Without the variable (a job run with `runnel
// run`, say) it returns an empty map; set the variable to try a properties file locally.
func Properties() (map[string]map[string]string, error) {
	path := os.Getenv(PropertiesEnv)
	out := map[string]map[string]string{}
	if path == "" {
		return out, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("app: %s=%s: the properties file does not exist", PropertiesEnv, path)
	}
	if err != nil {
		return nil, fmt.Errorf("app: reading the application properties: %w", err)
	}
	var groups []struct {
		PropertyGroupID string            `json:"PropertyGroupId"`
		PropertyMap     map[string]string `json:"PropertyMap"`
	}
	if err := json.Unmarshal(data, &groups); err != nil {
		return nil, fmt.Errorf("app: the application properties in %s: %w", path, err)
	}
	for _, g := range groups {
		if out[g.PropertyGroupID] == nil {
			out[g.PropertyGroupID] = map[string]string{}
		}
		for k, v := range g.PropertyMap {
			out[g.PropertyGroupID][k] = v
		}
	}
	return out, nil
}
