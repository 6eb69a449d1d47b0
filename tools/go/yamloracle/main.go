// Command yamloracle reads manifest files as kubectl reads them and prints what kubectl would send.
//
// It is the reference for gitops-push's YAML reader (tests/unit/test_kubectl_parity.py): for each
// file named on the command line it splits the stream into documents with the decoder that kubectl's
// resource builder uses (k8s.io/apimachinery/pkg/util/yaml.NewYAMLOrJSONDecoder, YAML documents
// converted by sigs.k8s.io/yaml), skips empty and null documents as kubectl does, and gives each
// document's JSON as kubectl's unstructured objects hold it (numbers as int64 or float64). Each
// document is then handed on its own to kubectl's builder (k8s.io/cli-runtime, local, unstructured,
// flattened) for the objects kubectl would apply, which expands List kinds.
//
// Output: one JSON object per line.
//
//	{"file": F, "document": N, "json": VALUE, "objects": [OBJECT...]}
//	{"file": F, "document": N, "json": VALUE, "objects_error": MESSAGE}
//	{"file": F, "document": N, "error": MESSAGE}   kubectl stops reading the file here
//	{"file": F, "end": true}                       the file was read to its end
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/resource"
)

type line map[string]any

func main() {
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	encoder := json.NewEncoder(out)
	for _, path := range os.Args[1:] {
		if err := readFile(path, encoder); err != nil {
			fmt.Fprintf(os.Stderr, "yamloracle: %s: %v\n", path, err)
			out.Flush()
			os.Exit(2)
		}
	}
}

// readFile mirrors resource.StreamVisitor.Visit: the same decoder, buffer size and skipping rules.
func readFile(path string, encoder *json.Encoder) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	decoder := utilyaml.NewYAMLOrJSONDecoder(file, 4096)
	for index := 0; ; index++ {
		ext := runtime.RawExtension{}
		if err := decoder.Decode(&ext); err != nil {
			if err == io.EOF {
				return encoder.Encode(line{"file": path, "end": true})
			}
			return encoder.Encode(line{"file": path, "document": index, "error": err.Error()})
		}
		raw := bytes.TrimSpace(ext.Raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			index--
			continue
		}
		if err := encoder.Encode(document(path, index, raw)); err != nil {
			return err
		}
	}
}

func document(path string, index int, raw []byte) line {
	result := line{"file": path, "document": index}
	var value any
	// The numbers of kubectl's unstructured objects: int64 where the text is an integer, else float64.
	if err := utiljson.Unmarshal(raw, &value); err != nil {
		result["error"] = err.Error()
		return result
	}
	result["json"] = value
	objects, err := objectsOf(raw)
	if err != nil {
		result["objects_error"] = err.Error()
	} else {
		result["objects"] = objects
	}
	return result
}

// objectsOf gives one document to kubectl's builder, as `kubectl apply -f` configures it
// (unstructured, flattened), without a server: the objects it would apply, List items expanded.
func objectsOf(raw []byte) ([]any, error) {
	result := resource.NewLocalBuilder().
		Unstructured().
		Stream(bytes.NewReader(raw), "document").
		Flatten().
		Do()
	objects := []any{}
	err := result.Visit(func(info *resource.Info, err error) error {
		if err != nil {
			return err
		}
		object, ok := info.Object.(*unstructured.Unstructured)
		if !ok {
			return errors.New("not an unstructured object")
		}
		objects = append(objects, object.Object)
		return nil
	})
	return objects, err
}
