// Loads an object with libbpf, runs named programs with BPF_PROG_TEST_RUN on the same data,
// prints return values, the values of the named maps (key 0..n-1 for arrays, or key list), and
// writes each program's xlated instructions to DIR/NAME.xlated. Written for rawbpf's tests.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static int quiet(enum libbpf_print_level l, const char *f, va_list a) { return getenv("DEBUG") ? vfprintf(stderr, f, a) : 0; }

int main(int argc, char **argv) {
	// argv: object dir prog... -- map...
	libbpf_set_print(quiet);
	// PIN_ROOT: where maps pinned by name go (libbpf's default is /sys/fs/bpf)
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = getenv("PIN_ROOT"));
	struct bpf_object *obj = bpf_object__open_file(argv[1], &opts);
	if (!obj || bpf_object__load(obj)) { printf("load failed\n"); return 1; }
	int i = 3;
	unsigned char data[64] = {0};
	for (; i < argc && strcmp(argv[i], "--"); i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(obj, argv[i]);
		int fd = bpf_program__fd(p);
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = data, .data_size_in = sizeof(data), .repeat = 1);
		if (bpf_prog_test_run_opts(fd, &o)) { printf("run %s failed\n", argv[i]); return 1; }
		printf("prog %s %u\n", argv[i], o.retval);
		struct bpf_prog_info info = {0};
		__u32 len = sizeof(info);
		bpf_obj_get_info_by_fd(fd, &info, &len);
		__u32 n = info.xlated_prog_len;
		void *buf = calloc(1, n);
		memset(&info, 0, sizeof(info));
		info.xlated_prog_len = n;
		info.xlated_prog_insns = (__u64)(unsigned long)buf;
		len = sizeof(info);
		bpf_obj_get_info_by_fd(fd, &info, &len);
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s.xlated", argv[2], argv[i]);
		FILE *f = fopen(path, "wb");
		fwrite(buf, 1, n, f);
		fclose(f);
	}
	for (i++; i < argc; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, argv[i]);
		int fd = bpf_map__fd(m);
		unsigned ks = bpf_map__key_size(m), vs = bpf_map__value_size(m);
		unsigned char key[256], next[256], val[4096];
		void *prev = NULL;
		while (!bpf_map_get_next_key(fd, prev, next)) {
			memcpy(key, next, ks);
			prev = key;
			if (bpf_map_lookup_elem(fd, key, val)) continue;
			printf("map %s ", argv[i]);
			for (unsigned j = 0; j < ks; j++) printf("%02x", key[j]);
			printf(" ");
			for (unsigned j = 0; j < vs; j++) printf("%02x", val[j]);
			printf("\n");
		}
	}
	bpf_object__close(obj);
	return 0;
}
