package screenconnect

import (
	"bytes"
	"encoding/binary"
	"unicode/utf16"
)

// buildPE writes a minimal, valid PE32 image whose only section holds a
// version resource with the given strings and numeric file version: the
// smallest real binary that carries what the scanner reads.
func buildPE(fileVersion [4]uint16, strs [][2]string) []byte {
	const (
		rsrcRVA  = 0x1000
		rawStart = 0x200
	)
	blob := versionInfo(fileVersion, strs)

	// Resource tree: type 16 (RT_VERSION) → id 1 → language 0x409 → data.
	var rsrc bytes.Buffer
	dir := func(entryID, target uint32) {
		binary.Write(&rsrc, binary.LittleEndian, [4]uint32{0, 0, 0, 1 << 16}) // header: one id entry
		binary.Write(&rsrc, binary.LittleEndian, [2]uint32{entryID, target})
	}
	dir(16, 0x80000000|0x18)
	dir(1, 0x80000000|0x30)
	dir(0x409, 0x48)
	binary.Write(&rsrc, binary.LittleEndian, [4]uint32{rsrcRVA + 0x58, uint32(len(blob)), 0, 0})
	for rsrc.Len() < 0x58 {
		rsrc.WriteByte(0)
	}
	rsrc.Write(blob)
	virtualSize := uint32(rsrc.Len())
	for rsrc.Len()%0x200 != 0 {
		rsrc.WriteByte(0)
	}

	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	// DOS header: only e_magic and e_lfanew matter.
	dos := make([]byte, 0x40)
	copy(dos, "MZ")
	binary.LittleEndian.PutUint32(dos[0x3c:], 0x40)
	b.Write(dos)
	b.WriteString("PE\x00\x00")
	// COFF file header.
	le(uint16(0x14c)) // i386
	le(uint16(1))     // sections
	le(uint32(0))     // timestamp
	le(uint32(0))     // symbol table
	le(uint32(0))     // symbols
	le(uint16(0xE0))  // optional header size
	le(uint16(0x0102))
	// Optional header, PE32.
	le(uint16(0x10b))
	le([2]uint8{14, 0})
	le([9]uint32{0, uint32(rsrc.Len()), 0, 0, rsrcRVA, rsrcRVA, 0x400000, 0x1000, 0x200})
	le([6]uint16{6, 0, 0, 0, 6, 0})
	le([4]uint32{0, rsrcRVA + 0x1000*((virtualSize+0xfff)/0x1000), rawStart, 0})
	le([2]uint16{3, 0x8540}) // console; dynamic base, NX, no SEH, terminal server aware
	le([4]uint32{0x100000, 0x1000, 0x100000, 0x1000})
	le([2]uint32{0, 16})
	for i := 0; i < 16; i++ {
		if i == 2 { // resource directory
			le([2]uint32{rsrcRVA, virtualSize})
		} else {
			le([2]uint32{0, 0})
		}
	}
	// Section header.
	b.WriteString(".rsrc\x00\x00\x00")
	le([4]uint32{virtualSize, rsrcRVA, uint32(rsrc.Len()), rawStart})
	le([2]uint32{0, 0})
	le([2]uint16{0, 0})
	le(uint32(0x40000040)) // initialized data, readable
	for b.Len() < rawStart {
		b.WriteByte(0)
	}
	b.Write(rsrc.Bytes())
	return b.Bytes()
}

// versionInfo encodes a VS_VERSIONINFO tree.
func versionInfo(v [4]uint16, strs [][2]string) []byte {
	fixed := new(bytes.Buffer)
	ms := uint32(v[0])<<16 | uint32(v[1])
	ls := uint32(v[2])<<16 | uint32(v[3])
	binary.Write(fixed, binary.LittleEndian, [13]uint32{
		0xFEEF04BD, 0x00010000, ms, ls, ms, ls, 0x3f, 0, 0x40004, 1, 0, 0, 0,
	})
	var strings [][]byte
	for _, kv := range strs {
		val := utf16z(kv[1])
		strings = append(strings, verNode(kv[0], 1, val, uint16(len(val)/2)))
	}
	table := verNode("040904b0", 1, nil, 0, strings...)
	sfi := verNode("StringFileInfo", 1, nil, 0, table)
	tr := []byte{0x09, 0x04, 0xb0, 0x04}
	vfi := verNode("VarFileInfo", 1, nil, 0, verNode("Translation", 0, tr, 4))
	return verNode("VS_VERSION_INFO", 0, fixed.Bytes(), uint16(fixed.Len()), sfi, vfi)
}

// verNode encodes one version-resource node: length, value length, type,
// NUL-terminated UTF-16 key, value and children, each 32-bit aligned.
func verNode(key string, typ uint16, value []byte, valueLen uint16, children ...[]byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, [3]uint16{0, valueLen, typ})
	b.Write(utf16z(key))
	pad4(&b)
	b.Write(value)
	for _, c := range children {
		pad4(&b)
		b.Write(c)
	}
	out := b.Bytes()
	binary.LittleEndian.PutUint16(out, uint16(len(out)))
	return out
}

func pad4(b *bytes.Buffer) {
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
}

func utf16z(s string) []byte {
	u := utf16.Encode([]rune(s))
	out := make([]byte, 2*len(u)+2)
	for i, c := range u {
		binary.LittleEndian.PutUint16(out[2*i:], c)
	}
	return out
}
