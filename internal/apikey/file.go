package apikey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrFileChanged means the keys file changed while Add was adding to it:
// nothing was added, and adding again is safe.
var ErrFileChanged = errors.New("apikey: the keys file changed while a key was being added; add it again")

// Add generates a key named name with scope, appends its hash to the keys
// file at path, and returns the key: it is stored nowhere else.
//
// A missing file is created with mode 0600; an existing one keeps its mode
// and every line it had. The file is replaced atomically (a temporary file
// in the same directory, renamed over it), so a reader sees either the old
// file or the new one. Add refuses a name the file already has, and a file
// that Load would refuse. When another process changes the file between
// Add's reading and its rename, Add returns ErrFileChanged and changes
// nothing; the check cannot catch a change in the instant before the rename
// itself, so adds to one file should not run at the same moment.
func Add(path, name string, scope Scope) (string, error) {
	if err := CheckName(name); err != nil {
		return "", fmt.Errorf("apikey: %w", err)
	}
	if !scope.valid() {
		return "", fmt.Errorf("apikey: invalid scope %d", uint8(scope))
	}
	// Replace the file a symbolic link points to, not the link.
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	old, mode, err := readKeysFile(path)
	if err != nil {
		return "", err
	}
	set, err := parse(old, path)
	if err != nil {
		return "", err
	}
	for _, k := range set.keys {
		if k.Name == name {
			return "", fmt.Errorf("apikey: %s has a key named %q already", path, name)
		}
	}
	key := Generate()
	line, err := json.Marshal(entry{Name: name, Scope: scope.String(), SHA256: Hash(key)})
	if err != nil {
		return "", fmt.Errorf("apikey: %w", err)
	}
	data := bytes.Clone(old)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(data, '\n')
	}
	data = append(append(data, line...), '\n')
	if err := replace(path, data, mode, old); err != nil {
		return "", err
	}
	return key, nil
}

// readKeysFile returns the contents and mode of the keys file at path: no
// contents and mode 0600 when there is none yet.
func readKeysFile(path string) ([]byte, fs.FileMode, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0o600, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("apikey: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("apikey: %w", err)
	}
	return b, fi.Mode().Perm(), nil
}

// replace writes data to a temporary file beside path and renames it over
// path, unless path no longer holds old.
func replace(path string, data []byte, mode fs.FileMode, old []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("apikey: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("apikey: write %s: %w", tmp.Name(), err)
	}
	now, _, err := readKeysFile(path)
	if err != nil {
		return err
	}
	if !bytes.Equal(now, old) {
		return ErrFileChanged
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("apikey: %w", err)
	}
	// Make the rename itself durable; not every system can sync a
	// directory, and the file's contents are already on disk.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
