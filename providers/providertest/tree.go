package providertest

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Entry is a folder or a file of the folder tree the browsing doubles
// serve (Google, SharePoint, Box, S3), each in its own ids and wire
// format.
type Entry struct {
	Name     string
	Folder   bool
	Size     int64
	MimeType string // files only; Drive and Graph report it
	Modified time.Time
	Children []*Entry // folders only
}

// SampleTree is the tree every browsing double serves:
//
//	/Archive/               an empty folder
//	/Reports/               a folder of 7 files and a folder
//	/Reports/Mike's 2025/q1.csv
//	/Reports/r01.pdf ... /Reports/r07.pdf
//	/data.json
//	/readme.txt
//
// Enough items that listings of two or three per page take several pages;
// a folder name with a space and a quote, which each provider must escape
// its own way (a Drive query string, a Graph path, an S3 prefix).
func SampleTree() *Entry {
	at := func(day int) time.Time { return time.Date(2026, 11, day, 10, 0, 0, 0, time.UTC) }
	file := func(name, mime string, size int64, day int) *Entry {
		return &Entry{Name: name, Size: size, MimeType: mime, Modified: at(day)}
	}
	folder := func(name string, day int, children ...*Entry) *Entry {
		return &Entry{Name: name, Folder: true, Modified: at(day), Children: children}
	}
	var reports []*Entry
	for i := 1; i <= 7; i++ {
		reports = append(reports, file(fmt.Sprintf("r%02d.pdf", i), "application/pdf", int64(1000*i), i))
	}
	reports = append(reports, folder("Mike's 2025", 9, file("q1.csv", "text/csv", 42, 9)))
	return folder("", 1,
		folder("Archive", 2),
		folder("Reports", 3, reports...),
		file("data.json", "application/json", 512, 4),
		file("readme.txt", "text/plain", 128, 5),
	)
}

// Find is the entry at path ("/" is e itself), nil when there is none.
func (e *Entry) Find(path string) *Entry {
	cur := e
	for _, seg := range strings.Split(path, "/") {
		if seg == "" {
			continue
		}
		next := cur.child(seg)
		if next == nil {
			return nil
		}
		cur = next
	}
	return cur
}

func (e *Entry) child(name string) *Entry {
	for _, c := range e.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// sortedChildren are e's children by name.
func (e *Entry) sortedChildren() []*Entry {
	out := append([]*Entry(nil), e.Children...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// node is an entry of a double's index: its id there and its parent.
type node struct {
	*Entry
	ID     string
	Parent *node
	Path   string
}

// treeIndex gives every entry of a tree an id, as one provider would.
type treeIndex struct {
	root  *node
	byID  map[string]*node
	order []*node
}

// indexTree numbers the entries of root: root gets rootID, the others
// prefix followed by a sequence number.
func indexTree(root *Entry, rootID, prefix string) *treeIndex {
	ix := &treeIndex{byID: map[string]*node{}}
	seq := 0
	var walk func(e *Entry, parent *node, path string) *node
	walk = func(e *Entry, parent *node, path string) *node {
		id := rootID
		if parent != nil {
			seq++
			id = fmt.Sprintf("%s%04d", prefix, seq)
		}
		n := &node{Entry: e, ID: id, Parent: parent, Path: path}
		ix.byID[id] = n
		ix.order = append(ix.order, n)
		for _, c := range e.sortedChildren() {
			p := path + "/" + c.Name
			if path == "/" {
				p = "/" + c.Name
			}
			walk(c, n, p)
		}
		return n
	}
	ix.root = walk(root, nil, "/")
	return ix
}

// children are n's child nodes by name.
func (ix *treeIndex) children(n *node) []*node {
	var out []*node
	for _, c := range ix.order {
		if c.Parent == n {
			out = append(out, c)
		}
	}
	return out
}

// at is the node at a path below the root, nil when there is none.
func (ix *treeIndex) at(path string) *node {
	e := ix.root.Find(path)
	if e == nil {
		return nil
	}
	for _, n := range ix.order {
		if n.Entry == e {
			return n
		}
	}
	return nil
}

// pageToken is an opaque page token: an offset into a listing, bound to
// what was listed (a token of another listing is refused, as providers
// refuse them).
func pageToken(listing string, offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset) + "|" + listing))
}

// readPageToken is the offset of a token of listing; ok is false for a
// token that is not one.
func readPageToken(token, listing string) (offset int, ok bool) {
	if token == "" {
		return 0, true
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, false
	}
	n, rest, found := strings.Cut(string(b), "|")
	offset, err = strconv.Atoi(n)
	if !found || err != nil || rest != listing || offset < 0 {
		return 0, false
	}
	return offset, true
}
