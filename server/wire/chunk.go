package wire

// RowBytes estimates a row's JSON size: keys, values and punctuation.
// Escaping can make the real size larger, which the byte bound's headroom
// under MaxMessageBytes absorbs.
func RowBytes(row map[string]string) int {
	n := 2
	for k, v := range row {
		n += len(k) + len(v) + 6
	}
	return n
}

// Chunk splits rows into chunks of at most maxRows rows and about maxBytes
// bytes. A row larger than maxBytes on its own cannot be sent and is
// dropped; dropped counts them so the stats can say so.
func Chunk(rows []map[string]string, maxRows, maxBytes int) (chunks [][]map[string]string, dropped int) {
	if maxRows < 1 {
		maxRows = DefaultChunkRows
	}
	if maxBytes < 1 {
		maxBytes = DefaultChunkBytes
	}
	start, size := 0, 0
	var cur []map[string]string
	for _, r := range rows {
		b := RowBytes(r)
		if b > maxBytes {
			dropped++
			continue
		}
		if len(cur) > 0 && (len(cur) >= maxRows || size+b > maxBytes) {
			chunks = append(chunks, cur)
			cur, size = nil, 0
		}
		if cur == nil {
			cur = make([]map[string]string, 0, min(maxRows, len(rows)-start))
		}
		cur = append(cur, r)
		size += b
		start++
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks, dropped
}
