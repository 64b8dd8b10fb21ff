// Package ui holds the control room's browser application, embedded in the
// binary: HTML, CSS, JavaScript, the vendored MapLibre GL JS (see
// scripts/vendor-maplibre.sh) and the DejaVu Sans font the map labels are
// drawn with. Nothing is fetched from outside at run time.
//
// The application speaks only the public API under /api/v1 with the
// user's bearer token, so it shows exactly what the API gives that role.
// This package imports the standard library only.
package ui

import (
	"embed"
	"io/fs"
)

//go:embed index.html app.css js fonts vendor
var files embed.FS

// FS returns the application's files, rooted at the directory holding
// index.html.
func FS() fs.FS { return files }
