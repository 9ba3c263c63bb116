/*
 * A fake libnvidia-ml.so.1 for the tests: NVIDIA's real Python bindings
 * (nvidia-ml-py's pynvml) load it with ctypes exactly as they load the
 * driver's library, so their own code runs: symbol lookup, FunctionNotFound,
 * throwOnVersionMismatch, versioned structs.
 *
 * Built once per driver generation (tests/fake_libnvml/__init__.py passes
 * -DDRIVER_GEN=470 and one -DHAVE_<symbol> per optional function that
 * generation's libnvidia-ml exports, from tests/fake_libnvml/symbols.py).
 * A function a generation lacks is left out of the ELF symbol table, so
 * dlsym fails just as it does on such a driver.
 *
 * The machine it pretends to be (driver version, GPUs, errors) is read at
 * nvmlInit from the file "fake-nvml-state" beside this library: one
 * `key=value` a line, `gpuN.key=value` for GPU N (see state_text() in
 * __init__.py). A key that is absent makes its query return NOT_SUPPORTED.
 *
 * Signatures and struct layouts follow nvml.h as the bindings declare them.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef DRIVER_GEN
#error "build with -DDRIVER_GEN=<driver branch>, e.g. -DDRIVER_GEN=470"
#endif

#define API __attribute__((visibility("default")))

typedef int nvmlReturn_t;
enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
    NVML_ERROR_UNKNOWN = 999,
};

#define MAX_GPUS 16
#define MAX_PROCS 16
#define TEXT 96

struct gpu {
    char name[TEXT], uuid[TEXT], pci_bus_id[TEXT], not_supported[1024];
    int has_name, has_uuid, has_pci, has_cc, has_memory, has_persistence, has_mig, has_ecc;
    int has_ecc_uncorrected, has_retired, has_remapped, has_pcie, has_temperature, has_power;
    int has_power_limit, has_clock_reasons, has_processes;
    int lost;
    int cc_major, cc_minor;
    unsigned long long memory_total_mib;
    unsigned persistence, mig[2], ecc[2], retired_pending, remapped[4], pcie[4], temperature;
    unsigned power_mw, power_limit_mw;
    unsigned long long ecc_uncorrected, clock_reasons;
    unsigned pci_device_id;
    unsigned processes[MAX_PROCS];
    unsigned process_count;
};

static struct {
    int init_error, refcount;
    char driver_version[TEXT], nvml_version[TEXT];
    int cuda_driver_version;
    unsigned gpu_count;
    struct gpu gpus[MAX_GPUS];
} state;

/* --- the state file ------------------------------------------------------- */

static void copy_text(char *dst, const char *src) {
    snprintf(dst, TEXT, "%s", src);
}

static void set_gpu(struct gpu *g, const char *key, const char *v) {
    if (!strcmp(key, "name")) { copy_text(g->name, v); g->has_name = 1; }
    else if (!strcmp(key, "uuid")) { copy_text(g->uuid, v); g->has_uuid = 1; }
    else if (!strcmp(key, "pci_bus_id")) { copy_text(g->pci_bus_id, v); g->has_pci = 1; }
    else if (!strcmp(key, "pci_device_id")) g->pci_device_id = (unsigned)strtoul(v, NULL, 0);
    else if (!strcmp(key, "cc")) g->has_cc = sscanf(v, "%d.%d", &g->cc_major, &g->cc_minor) == 2;
    else if (!strcmp(key, "memory_total_mib")) { g->memory_total_mib = strtoull(v, NULL, 0); g->has_memory = 1; }
    else if (!strcmp(key, "persistence")) { g->persistence = (unsigned)atoi(v); g->has_persistence = 1; }
    else if (!strcmp(key, "mig")) g->has_mig = sscanf(v, "%u,%u", &g->mig[0], &g->mig[1]) == 2;
    else if (!strcmp(key, "ecc")) g->has_ecc = sscanf(v, "%u,%u", &g->ecc[0], &g->ecc[1]) == 2;
    else if (!strcmp(key, "ecc_uncorrected")) { g->ecc_uncorrected = strtoull(v, NULL, 0); g->has_ecc_uncorrected = 1; }
    else if (!strcmp(key, "retired_pending")) { g->retired_pending = (unsigned)atoi(v); g->has_retired = 1; }
    else if (!strcmp(key, "remapped"))
        g->has_remapped = sscanf(v, "%u,%u,%u,%u", &g->remapped[0], &g->remapped[1], &g->remapped[2],
                                 &g->remapped[3]) == 4;
    else if (!strcmp(key, "pcie"))  /* current gen, max gen, current width, max width */
        g->has_pcie = sscanf(v, "%u,%u,%u,%u", &g->pcie[0], &g->pcie[1], &g->pcie[2], &g->pcie[3]) == 4;
    else if (!strcmp(key, "temperature")) { g->temperature = (unsigned)atoi(v); g->has_temperature = 1; }
    else if (!strcmp(key, "power_mw")) { g->power_mw = (unsigned)atoi(v); g->has_power = 1; }
    else if (!strcmp(key, "power_limit_mw")) { g->power_limit_mw = (unsigned)atoi(v); g->has_power_limit = 1; }
    else if (!strcmp(key, "clock_reasons")) { g->clock_reasons = strtoull(v, NULL, 0); g->has_clock_reasons = 1; }
    else if (!strcmp(key, "processes")) {
        /* "" is no process; "48213,48214" two */
        char buf[1024], *save = NULL;
        snprintf(buf, sizeof buf, "%s", v);
        g->process_count = 0;
        for (char *t = strtok_r(buf, ",", &save); t && g->process_count < MAX_PROCS; t = strtok_r(NULL, ",", &save))
            g->processes[g->process_count++] = (unsigned)strtoul(t, NULL, 10);
        g->has_processes = 1;
    }
    else if (!strcmp(key, "not_supported")) snprintf(g->not_supported, sizeof g->not_supported, ",%s,", v);
    else if (!strcmp(key, "lost")) g->lost = atoi(v);
    else fprintf(stderr, "fake libnvidia-ml: unknown GPU key %s\n", key);
}

static int load_state(void) {
    Dl_info info;
    char path[4096];
    if (!dladdr((void *)load_state, &info) || !info.dli_fname) return 0;
    snprintf(path, sizeof path, "%s", info.dli_fname);
    char *slash = strrchr(path, '/');
    snprintf(slash ? slash + 1 : path, sizeof path - (size_t)(slash ? slash + 1 - path : 0), "fake-nvml-state");
    FILE *fh = fopen(path, "r");
    if (!fh) {
        fprintf(stderr, "fake libnvidia-ml: no state file %s\n", path);
        return 0;
    }
    memset(&state, 0, sizeof state);
    char line[2048];
    while (fgets(line, sizeof line, fh)) {
        line[strcspn(line, "\n")] = 0;
        char *eq = strchr(line, '=');
        if (!eq || line[0] == '#') continue;
        *eq = 0;
        const char *key = line, *value = eq + 1;
        unsigned index;
        int used = 0;
        if (sscanf(key, "gpu%u.%n", &index, &used) == 1 && used > 0) {
            if (index < MAX_GPUS) set_gpu(&state.gpus[index], key + used, value);
        }
        else if (!strcmp(key, "init_error")) state.init_error = atoi(value);
        else if (!strcmp(key, "driver_version")) copy_text(state.driver_version, value);
        else if (!strcmp(key, "nvml_version")) copy_text(state.nvml_version, value);
        else if (!strcmp(key, "cuda_driver_version")) state.cuda_driver_version = atoi(value);
        else if (!strcmp(key, "gpu_count")) state.gpu_count = (unsigned)atoi(value);
        else fprintf(stderr, "fake libnvidia-ml: unknown key %s\n", key);
    }
    fclose(fh);
    if (state.gpu_count > MAX_GPUS) state.gpu_count = MAX_GPUS;
    return 1;
}

/* --- init and system queries ------------------------------------------------ */

static nvmlReturn_t init(void) {
    if (state.refcount > 0) { state.refcount++; return NVML_SUCCESS; }
    if (!load_state()) return NVML_ERROR_UNKNOWN;
    if (state.init_error) return state.init_error;
    state.refcount = 1;
    return NVML_SUCCESS;
}

API nvmlReturn_t nvmlInit(void) { return init(); }
API nvmlReturn_t nvmlInit_v2(void) { return init(); }
API nvmlReturn_t nvmlInitWithFlags(unsigned flags) { (void)flags; return init(); }

API nvmlReturn_t nvmlShutdown(void) {
    if (state.refcount == 0) return NVML_ERROR_UNINITIALIZED;
    state.refcount--;
    return NVML_SUCCESS;
}

API const char *nvmlErrorString(nvmlReturn_t result) {
    switch (result) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 7: return "Insufficient Size";
    case 9: return "Driver Not Loaded";
    case 12: return "NVML Shared Library Not Found";
    case 13: return "Function Not Found";
    case 15: return "GPU is lost";
    case 18: return "RM has detected an NVML/RM version mismatch.";
    case 25: return "Argument version mismatch";
    default: return "Unknown Error";
    }
}

static nvmlReturn_t text_out(const char *value, char *out, unsigned length) {
    if (state.refcount == 0) return NVML_ERROR_UNINITIALIZED;
    if (!out) return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(value) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(out, value);
    return NVML_SUCCESS;
}

API nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned length) {
    return text_out(state.driver_version, version, length);
}

API nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned length) {
    return text_out(state.nvml_version, version, length);
}

static nvmlReturn_t cuda_version(int *version) {
    if (state.refcount == 0) return NVML_ERROR_UNINITIALIZED;
    if (!version) return NVML_ERROR_INVALID_ARGUMENT;
    *version = state.cuda_driver_version;
    return NVML_SUCCESS;
}

API nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *version) { return cuda_version(version); }
#ifdef HAVE_nvmlSystemGetCudaDriverVersion_v2
API nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *version) { return cuda_version(version); }
#endif

static nvmlReturn_t device_count(unsigned *count) {
    if (state.refcount == 0) return NVML_ERROR_UNINITIALIZED;
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    *count = state.gpu_count;
    return NVML_SUCCESS;
}

API nvmlReturn_t nvmlDeviceGetCount(unsigned *count) { return device_count(count); }
API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned *count) { return device_count(count); }

typedef struct gpu *nvmlDevice_t;

static nvmlReturn_t handle_by_index(unsigned index, nvmlDevice_t *device) {
    if (state.refcount == 0) return NVML_ERROR_UNINITIALIZED;
    if (!device || index >= state.gpu_count) return NVML_ERROR_INVALID_ARGUMENT;
    if (state.gpus[index].lost) return NVML_ERROR_GPU_IS_LOST;
    *device = &state.gpus[index];
    return NVML_SUCCESS;
}

API nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned index, nvmlDevice_t *device) {
    return handle_by_index(index, device);
}
API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned index, nvmlDevice_t *device) {
    return handle_by_index(index, device);
}

/* --- per device -------------------------------------------------------------- */

/* The checks every device query makes, in the driver's order: initialised, a
 * valid handle, the GPU still on the bus, the query supported on this board.
 * `not_supported` names functions without their _vN suffix. */
static nvmlReturn_t check(nvmlDevice_t device, const char *function, const void *out) {
    if (state.refcount == 0) return NVML_ERROR_UNINITIALIZED;
    if (device < &state.gpus[0] || device >= &state.gpus[state.gpu_count] || !out) return NVML_ERROR_INVALID_ARGUMENT;
    if (device->lost) return NVML_ERROR_GPU_IS_LOST;
    char needle[128];
    snprintf(needle, sizeof needle, ",%s", function);
    char *version = strstr(needle, "_v");
    if (version) *version = 0;
    strcat(needle, ",");
    if (strstr(device->not_supported, needle)) return NVML_ERROR_NOT_SUPPORTED;
    return NVML_SUCCESS;
}

/* check(), then NOT_SUPPORTED where the state file left the value out. */
#define CHECK(has, out) do { nvmlReturn_t rc_ = check(device, __func__, out); \
                             if (rc_ != NVML_SUCCESS) return rc_; \
                             if (!device->has) return NVML_ERROR_NOT_SUPPORTED; } while (0)

API nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned length) {
    CHECK(has_name, name);
    return text_out(device->name, name, length);
}

API nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned length) {
    CHECK(has_uuid, uuid);
    return text_out(device->uuid, uuid, length);
}

/* nvmlPciInfo_t as nvmlDeviceGetPciInfo_v3 fills it (nvml.h since 9.0). */
typedef struct {
    char busIdLegacy[16];
    unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;

API nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    CHECK(has_pci, pci);
    memset(pci, 0, sizeof *pci);
    snprintf(pci->busId, sizeof pci->busId, "%.31s", device->pci_bus_id);
    /* the legacy field holds the short "0000:07:00.0" form of "00000000:07:00.0" */
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%.15s", device->pci_bus_id + (strlen(device->pci_bus_id) > 12 ? 4 : 0));
    sscanf(device->pci_bus_id, "%x:%x:%x", &pci->domain, &pci->bus, &pci->device);
    pci->pciDeviceId = device->pci_device_id;
    return NVML_SUCCESS;
}

API nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor) {
    CHECK(has_cc, major);
    if (!minor) return NVML_ERROR_INVALID_ARGUMENT;
    *major = device->cc_major;
    *minor = device->cc_minor;
    return NVML_SUCCESS;
}

typedef struct { unsigned long long total, free, used; } nvmlMemory_t;

API nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    CHECK(has_memory, memory);
    memory->total = device->memory_total_mib << 20;
    memory->used = 0;
    memory->free = memory->total;
    return NVML_SUCCESS;
}

#ifdef HAVE_nvmlDeviceGetMemoryInfo_v2
/* nvmlMemory_v2_t: a versioned struct, the caller sets `version` = sizeof | 2 << 24. */
typedef struct { unsigned version; unsigned long long total, reserved, free, used; } nvmlMemory_v2_t;
#define nvmlMemory_v2 ((unsigned)(sizeof(nvmlMemory_v2_t) | (2u << 24)))

API nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory) {
    CHECK(has_memory, memory);
    if (memory->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    memory->total = device->memory_total_mib << 20;
    memory->reserved = 0;
    memory->used = 0;
    memory->free = memory->total;
    return NVML_SUCCESS;
}
#endif

API nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t device, int *mode) {
    CHECK(has_persistence, mode);
    *mode = (int)device->persistence;
    return NVML_SUCCESS;
}

#ifdef HAVE_nvmlDeviceGetMigMode
API nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned *current, unsigned *pending) {
    CHECK(has_mig, current);
    if (!pending) return NVML_ERROR_INVALID_ARGUMENT;
    *current = device->mig[0];
    *pending = device->mig[1];
    return NVML_SUCCESS;
}
#endif

API nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t device, int *current, int *pending) {
    CHECK(has_ecc, current);
    if (!pending) return NVML_ERROR_INVALID_ARGUMENT;
    *current = (int)device->ecc[0];
    *pending = (int)device->ecc[1];
    return NVML_SUCCESS;
}

API nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, int error_type, int counter_type,
                                             unsigned long long *count) {
    CHECK(has_ecc_uncorrected, count);
    (void)counter_type;
    /* Only uncorrected (NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1) counts are modelled. */
    *count = error_type == 1 ? device->ecc_uncorrected : 0;
    return NVML_SUCCESS;
}

API nvmlReturn_t nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t device, int *pending) {
    CHECK(has_retired, pending);
    *pending = (int)device->retired_pending;
    return NVML_SUCCESS;
}

#ifdef HAVE_nvmlDeviceGetRemappedRows
API nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t device, unsigned *corr, unsigned *unc, unsigned *pending,
                                           unsigned *failure) {
    CHECK(has_remapped, corr);
    if (!unc || !pending || !failure) return NVML_ERROR_INVALID_ARGUMENT;
    *corr = device->remapped[0];
    *unc = device->remapped[1];
    *pending = device->remapped[2];
    *failure = device->remapped[3];
    return NVML_SUCCESS;
}
#endif

#define PCIE_QUERY(function, slot) \
    API nvmlReturn_t function(nvmlDevice_t device, unsigned *value) { \
        CHECK(has_pcie, value); \
        *value = device->pcie[slot]; \
        return NVML_SUCCESS; \
    }
PCIE_QUERY(nvmlDeviceGetCurrPcieLinkGeneration, 0)
PCIE_QUERY(nvmlDeviceGetMaxPcieLinkGeneration, 1)
PCIE_QUERY(nvmlDeviceGetCurrPcieLinkWidth, 2)
PCIE_QUERY(nvmlDeviceGetMaxPcieLinkWidth, 3)

API nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensor, unsigned *temperature) {
    CHECK(has_temperature, temperature);
    if (sensor != 0) return NVML_ERROR_INVALID_ARGUMENT;  /* NVML_TEMPERATURE_GPU is the only sensor */
    *temperature = device->temperature;
    return NVML_SUCCESS;
}

API nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned *milliwatts) {
    CHECK(has_power, milliwatts);
    *milliwatts = device->power_mw;
    return NVML_SUCCESS;
}

API nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned *milliwatts) {
    CHECK(has_power_limit, milliwatts);
    *milliwatts = device->power_limit_mw;
    return NVML_SUCCESS;
}

API nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, unsigned long long *reasons) {
    CHECK(has_clock_reasons, reasons);
    *reasons = device->clock_reasons;
    return NVML_SUCCESS;
}

#ifdef HAVE_nvmlDeviceGetCurrentClocksEventReasons
API nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long *reasons) {
    CHECK(has_clock_reasons, reasons);
    *reasons = device->clock_reasons;
    return NVML_SUCCESS;
}
#endif

/* The process list, in each struct version nvml.h has had: v1 {pid, usedGpuMemory};
 * v2 adds the MIG GPU/compute instance ids. The _v3 function of 510-530 and 550+
 * fills the v2 struct (only 535.43-535.86 had a larger v3 struct; not modelled). */
typedef struct { unsigned pid; unsigned long long usedGpuMemory; } nvmlProcessInfo_v1_t;
typedef struct { unsigned pid; unsigned long long usedGpuMemory; unsigned gpuInstanceId, computeInstanceId; }
    nvmlProcessInfo_v2_t;

static nvmlReturn_t processes(nvmlDevice_t device, const char *function, unsigned *count, void *infos, size_t size) {
    nvmlReturn_t rc = check(device, function, count);
    if (rc != NVML_SUCCESS) return rc;
    if (!device->has_processes) return NVML_ERROR_NOT_SUPPORTED;
    unsigned have = device->process_count;
    if (!infos || *count < have) {
        *count = have;
        return have == 0 ? NVML_SUCCESS : NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (unsigned i = 0; i < have; i++) {
        char *entry = (char *)infos + i * size;
        memset(entry, 0, size);
        ((nvmlProcessInfo_v1_t *)entry)->pid = device->processes[i];
        ((nvmlProcessInfo_v1_t *)entry)->usedGpuMemory = 512ull << 20;
        if (size >= sizeof(nvmlProcessInfo_v2_t)) {
            ((nvmlProcessInfo_v2_t *)entry)->gpuInstanceId = 0xFFFFFFFFu;  /* not MIG */
            ((nvmlProcessInfo_v2_t *)entry)->computeInstanceId = 0xFFFFFFFFu;
        }
    }
    *count = have;
    return NVML_SUCCESS;
}

API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned *count, nvmlProcessInfo_v1_t *infos) {
    return processes(device, "nvmlDeviceGetComputeRunningProcesses", count, infos, sizeof(nvmlProcessInfo_v1_t));
}
#ifdef HAVE_nvmlDeviceGetComputeRunningProcesses_v2
API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned *count,
                                                         nvmlProcessInfo_v2_t *infos) {
    return processes(device, "nvmlDeviceGetComputeRunningProcesses", count, infos, sizeof(nvmlProcessInfo_v2_t));
}
#endif
#ifdef HAVE_nvmlDeviceGetComputeRunningProcesses_v3
API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned *count,
                                                         nvmlProcessInfo_v2_t *infos) {
    return processes(device, "nvmlDeviceGetComputeRunningProcesses", count, infos, sizeof(nvmlProcessInfo_v2_t));
}
#endif
