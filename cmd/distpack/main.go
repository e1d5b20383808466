// Command distpack packs release artefacts without tools a clean machine
// may lack (zip, sha256sum on macOS):
//
//	distpack zip OUT.zip PATH/bootstrap   a Lambda zip: one executable entry, "bootstrap"
//	distpack sums DIR                     DIR/SHA256SUMS for every other file in DIR
//
// Zips are reproducible: fixed timestamps and modes, so the same binary
// gives the same zip and the same checksum.
package main

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// SumsFile is the checksum list's name; `sha256sum -c SHA256SUMS` reads it.
const SumsFile = "SHA256SUMS"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "distpack:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 3 && args[0] == "zip":
		return zipBootstrap(args[1], args[2])
	case len(args) == 2 && args[0] == "sums":
		return writeSums(args[1])
	}
	return errors.New("usage: distpack zip OUT.zip BOOTSTRAP | distpack sums DIR")
}

// zipBootstrap writes out holding bin as "bootstrap", executable, which is
// what the provided.al2023 runtime runs.
func zipBootstrap(out, bin string) (err error) {
	src, err := os.Open(bin)
	if err != nil {
		return err
	}
	defer src.Close()
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	zw := zip.NewWriter(f)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, src); err != nil {
		return err
	}
	return zw.Close()
}

// writeSums lists every regular file of dir but the list itself, sorted,
// in sha256sum's format ("<hex>  <name>").
func writeSums(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var lines []string
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == SumsFile {
			continue
		}
		sum, err := fileSum(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		lines = append(lines, sum+"  "+e.Name()+"\n")
	}
	slices.Sort(lines)
	return os.WriteFile(filepath.Join(dir, SumsFile), []byte(strings.Join(lines, "")), 0o644)
}

func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
