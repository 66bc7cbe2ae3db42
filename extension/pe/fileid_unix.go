//go:build !windows

package pe

import (
	"io/fs"
	"syscall"
)

// fileID tells two files at the same path apart even when size and
// modification time match: a file replaced by another gets a new inode.
type fileID struct {
	dev, ino uint64
}

func fileIDOf(_ string, st fs.FileInfo) (fileID, error) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(s.Dev), ino: uint64(s.Ino)}, nil
	}
	return fileID{}, nil
}
