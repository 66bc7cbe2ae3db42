//go:build windows && !(amd64 || arm64)

package live

import (
	"context"
	"errors"
)

// The trace API passes 64-bit handles and keywords, laid out differently
// on 32-bit Windows; only 64-bit builds consume the kernel session.
var errTrace32 = errors.New("the Kernel-Process session needs a 64-bit build")

type kernelTrace struct{}

func newKernelTrace() KernelTrace { return kernelTrace{} }

func (kernelTrace) Probe() error                                  { return errTrace32 }
func (kernelTrace) Run(context.Context, func(KernelRecord)) error { return errTrace32 }
func (kernelTrace) Drives() (map[string]string, error)            { return nil, errTrace32 }
