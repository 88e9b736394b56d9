package service

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// An application's code is a ZIP file with an executable named bootstrap at its root (the
// convention AWS Lambda uses for Go), built with app.Main. Each version's ZIP is kept below
// the data directory and extracted next to it; the process runs the extracted bootstrap.

// maxZip is the largest ZIP accepted: the service model's bound on ZipFileContent (50 MiB),
// and the same for ZIPs read from S3.
const maxZip = 50 << 20

// maxUnzipped bounds what a ZIP may extract to, against ZIP bombs.
const maxUnzipped = 1 << 30

// codeDir returns the directory of an application's code.
func (s *Server) codeDir(app string) string { return filepath.Join(s.cfg.DataDir, "apps", app, "code") }

// versionCode returns the directory version's code is extracted to.
func (s *Server) versionCode(app string, version int64) string {
	return filepath.Join(s.codeDir(app), fmt.Sprint(version))
}

// fetchCode returns the ZIP and its description for a CreateApplication code configuration
// (or the parts of an update), reading S3 content from the server's S3 endpoint.
func (s *Server) fetchCode(ctx context.Context, typ types.CodeContentType, zipContent []byte, s3loc *types.S3ContentLocation, text *string) ([]byte, *types.ApplicationCodeConfigurationDescription, error) {
	if typ == types.CodeContentTypePlaintext || text != nil {
		return nil, nil, unsupported("PLAINTEXT code is Flink SQL, which Runnel's next release runs; give a ZIPFILE with a bootstrap executable built with app.Main")
	}
	var (
		data []byte
		desc = &types.CodeContentDescription{}
	)
	switch {
	case zipContent != nil:
		data = zipContent
	case s3loc != nil:
		bucket, ok := strings.CutPrefix(aws.ToString(s3loc.BucketARN), "arn:aws:s3:::")
		if !ok || bucket == "" {
			return nil, nil, invalidArg("S3ContentLocation.BucketARN %q is not an S3 bucket ARN (arn:aws:s3:::bucket)", aws.ToString(s3loc.BucketARN))
		}
		client, err := s.s3Client(ctx)
		if err != nil {
			return nil, nil, err
		}
		in := &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: s3loc.FileKey}
		if s3loc.ObjectVersion != nil {
			in.VersionId = s3loc.ObjectVersion
		}
		out, err := client.GetObject(ctx, in)
		if err != nil {
			return nil, nil, awsErr("InvalidArgumentException", "reading the code at s3://%s/%s: %v", bucket, aws.ToString(s3loc.FileKey), err)
		}
		defer out.Body.Close()
		data, err = io.ReadAll(io.LimitReader(out.Body, maxZip+1))
		if err != nil {
			return nil, nil, awsErr("InvalidArgumentException", "reading the code at s3://%s/%s: %v", bucket, aws.ToString(s3loc.FileKey), err)
		}
		if len(data) > maxZip {
			return nil, nil, invalidArg("the code at s3://%s/%s is larger than %d MiB", bucket, aws.ToString(s3loc.FileKey), maxZip>>20)
		}
		desc.S3ApplicationCodeLocationDescription = &types.S3ApplicationCodeLocationDescription{
			BucketARN: s3loc.BucketARN, FileKey: s3loc.FileKey, ObjectVersion: s3loc.ObjectVersion}
	default:
		return nil, nil, invalidArg("CodeContent: give ZipFileContent or S3ContentLocation")
	}
	if err := checkZip(data); err != nil {
		return nil, nil, awsErr("CodeValidationException", "%v", err)
	}
	sum := md5.Sum(data)
	desc.CodeMD5 = aws.String(hex.EncodeToString(sum[:]))
	desc.CodeSize = aws.Int64(int64(len(data)))
	return data, &types.ApplicationCodeConfigurationDescription{CodeContentType: types.CodeContentTypeZipfile, CodeContentDescription: desc}, nil
}

// checkZip checks that data is a ZIP with a bootstrap file at its root, within the size
// bounds, with no entry outside its root.
func checkZip(data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("the code is not a ZIP file: %v", err)
	}
	var total uint64
	found := false
	for _, f := range zr.File {
		if !filepath.IsLocal(f.Name) {
			return fmt.Errorf("the ZIP entry %q points outside the ZIP's root", f.Name)
		}
		total += f.UncompressedSize64
		if total > maxUnzipped {
			return fmt.Errorf("the ZIP extracts to more than %d MiB", maxUnzipped>>20)
		}
		if f.Name == "bootstrap" && !f.FileInfo().IsDir() {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("the ZIP has no file named bootstrap at its root: build the application with app.Main and zip the binary as bootstrap (zip app.zip bootstrap)")
	}
	return nil
}

// saveCode writes the ZIP of version and extracts it, bootstrap made executable.
func (s *Server) saveCode(app string, version int64, data []byte) error {
	dir := s.versionCode(app, version)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(dir+".zip", data, 0o644); err != nil {
		return err
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	for _, f := range zr.File {
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if f.Name == "bootstrap" || f.Mode()&0o111 != 0 {
			mode = 0o755
		}
		if err := extract(f, path, mode); err != nil {
			return fmt.Errorf("extracting %s: %w", f.Name, err)
		}
	}
	return nil
}

func extract(f *zip.File, path string, mode os.FileMode) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, io.LimitReader(rc, maxUnzipped)); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

// copyCode makes version to's code the same as version from's (an update that does not
// change the code).
func (s *Server) copyCode(app string, from, to int64) error {
	data, err := os.ReadFile(s.versionCode(app, from) + ".zip")
	if err != nil {
		return err
	}
	return s.saveCode(app, to, data)
}
