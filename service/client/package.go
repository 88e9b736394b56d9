package client

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
)

// Package returns a ZIP holding the executable at path as bootstrap, the code of an
// application: a program built with app.Main for Linux on the server's architecture (GOOS=linux
// go build -o bootstrap ./myjob).
func Package(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("packaging %s: %w", path, err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("packaging %s: not an executable file (build one with 'go build -o bootstrap ./yourjob')", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("packaging %s: %w", path, err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: st.ModTime()}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
