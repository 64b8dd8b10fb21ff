package roadnet

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"

	"github.com/convoi/convoi/osmdata"
)

var (
	monacoOnce  sync.Once
	monacoGraph *Graph
	monacoErr   error
)

// MustMonaco returns the Monaco graph, imported once per test binary.
func MustMonaco(tb testing.TB) *Graph {
	tb.Helper()
	monacoOnce.Do(func() {
		monacoGraph, monacoErr = ImportOSM(context.Background(), bytes.NewReader(osmdata.Monaco), FormatPBF, ImportOptions{})
	})
	if monacoErr != nil {
		tb.Fatal(monacoErr)
	}
	return monacoGraph
}

// MustImportFile imports an OSM file from the repository's testdata.
func MustImportFile(tb testing.TB, path string) *Graph {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	format, err := FormatOf(path)
	if err != nil {
		tb.Fatal(err)
	}
	g, err := ImportOSM(context.Background(), f, format, ImportOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

var (
	rouenOnce  sync.Once
	rouenGraph *Graph
	rouenErr   error
)

func mustRouen(tb testing.TB) *Graph {
	tb.Helper()
	rouenOnce.Do(func() {
		rouenGraph, rouenErr = ImportOSM(context.Background(), bytes.NewReader(osmdata.RouenCentre), FormatPBF, ImportOptions{})
	})
	if rouenErr != nil {
		tb.Fatal(rouenErr)
	}
	return rouenGraph
}
