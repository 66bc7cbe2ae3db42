//go:build windows

package pe

import (
	"fmt"
	"io/fs"
	"syscall"
)

// fileID tells two files at the same path apart even when size and
// modification time match: the volume serial number and NTFS file index.
type fileID struct {
	volume    uint32
	indexHigh uint32
	indexLow  uint32
}

func fileIDOf(path string, _ fs.FileInfo) (fileID, error) {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return fileID{}, err
	}
	// Share everything: the image may be running, and we must not stop
	// anyone from deleting or replacing it.
	h, err := syscall.CreateFile(p, 0,
		syscall.FILE_SHARE_READ|syscall.FILE_SHARE_WRITE|syscall.FILE_SHARE_DELETE,
		nil, syscall.OPEN_EXISTING, syscall.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return fileID{}, fmt.Errorf("opening %s: %w", path, err)
	}
	defer syscall.CloseHandle(h)
	var info syscall.ByHandleFileInformation
	if err := syscall.GetFileInformationByHandle(h, &info); err != nil {
		return fileID{}, fmt.Errorf("file id of %s: %w", path, err)
	}
	return fileID{volume: info.VolumeSerialNumber, indexHigh: info.FileIndexHigh, indexLow: info.FileIndexLow}, nil
}
