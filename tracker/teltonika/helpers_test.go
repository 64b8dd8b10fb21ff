package teltonika_test

import "io"

var ioEOF = io.EOF
