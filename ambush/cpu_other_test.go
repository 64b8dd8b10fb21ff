//go:build !unix

package ambush

import "time"

// processCPU is not measured here.
func processCPU() time.Duration { return 0 }
