#include "tests/fakes/power_loss_vfs.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace depositbot::testing {
namespace {

struct PendingOp {
  bool truncate = false;
  int64_t offset = 0;  // the new size for a truncate
  std::string data;
};

// One database or WAL file: what a power cut cannot take away, and what it may.
struct TrackedFile {
  std::string durable;
  std::vector<PendingOp> pending;
};

void Apply(const PendingOp& op, std::string& image) {
  if (op.truncate) {
    image.resize(static_cast<size_t>(op.offset));
    return;
  }
  size_t end = static_cast<size_t>(op.offset) + op.data.size();
  if (image.size() < end) image.resize(end);
  image.replace(static_cast<size_t>(op.offset), op.data.size(), op.data);
}

struct State {
  sqlite3_vfs* real = nullptr;
  sqlite3_vfs vfs{};
  sqlite3_io_methods methods{};
  PowerLossPlan plan;
  int64_t calls = 0;
  std::map<std::string, TrackedFile> files;
};

State& state() {
  static State s;
  return s;
}

// Our file: SQLite allocates vfs.szOsFile bytes; the real VFS's file follows ours.
struct File {
  sqlite3_file base;
  TrackedFile* tracked;  // null for files a power cut does not concern (temp files)
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};

File* AsFile(sqlite3_file* f) { return reinterpret_cast<File*>(f); }

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteWhole(const std::string& path, const std::string& image) {
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CREAT, 0644);
  if (fd < 0) _exit(2);
  size_t done = 0;
  while (done < image.size()) {
    ssize_t n = ::write(fd, image.data() + done, image.size() - done);
    if (n <= 0) _exit(2);
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

// Counts a mutating call and cuts the power when the plan says so.
void Tick() {
  State& s = state();
  if (++s.calls == s.plan.cut_at_call) CutPowerNow();
}

int Close(sqlite3_file* f) {
  File* file = AsFile(f);
  int rc = file->real()->pMethods->xClose(file->real());
  file->base.pMethods = nullptr;
  return rc;
}
int Read(sqlite3_file* f, void* buf, int amount, sqlite3_int64 offset) {
  return AsFile(f)->real()->pMethods->xRead(AsFile(f)->real(), buf, amount, offset);
}
int Write(sqlite3_file* f, const void* buf, int amount, sqlite3_int64 offset) {
  File* file = AsFile(f);
  if (file->tracked) {
    Tick();
    file->tracked->pending.push_back(
        {false, offset, std::string(static_cast<const char*>(buf), static_cast<size_t>(amount))});
  }
  return file->real()->pMethods->xWrite(file->real(), buf, amount, offset);
}
int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  File* file = AsFile(f);
  if (file->tracked) {
    Tick();
    file->tracked->pending.push_back({true, size, {}});
  }
  return file->real()->pMethods->xTruncate(file->real(), size);
}
int Sync(sqlite3_file* f, int flags) {
  File* file = AsFile(f);
  if (file->tracked) Tick();
  int rc = file->real()->pMethods->xSync(file->real(), flags);
  if (rc == SQLITE_OK && file->tracked) {
    for (const PendingOp& op : file->tracked->pending) Apply(op, file->tracked->durable);
    file->tracked->pending.clear();
  }
  return rc;
}
int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  return AsFile(f)->real()->pMethods->xFileSize(AsFile(f)->real(), size);
}
int Lock(sqlite3_file* f, int level) {
  return AsFile(f)->real()->pMethods->xLock(AsFile(f)->real(), level);
}
int Unlock(sqlite3_file* f, int level) {
  return AsFile(f)->real()->pMethods->xUnlock(AsFile(f)->real(), level);
}
int CheckReservedLock(sqlite3_file* f, int* out) {
  return AsFile(f)->real()->pMethods->xCheckReservedLock(AsFile(f)->real(), out);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  return AsFile(f)->real()->pMethods->xFileControl(AsFile(f)->real(), op, arg);
}
int SectorSize(sqlite3_file* f) {
  return AsFile(f)->real()->pMethods->xSectorSize(AsFile(f)->real());
}
int DeviceCharacteristics(sqlite3_file* f) {
  return AsFile(f)->real()->pMethods->xDeviceCharacteristics(AsFile(f)->real());
}
// The wal-index (-shm) is not durable state: SQLite rebuilds it from the WAL
// after a crash, and the test deletes it before reopening.
int ShmMap(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return AsFile(f)->real()->pMethods->xShmMap(AsFile(f)->real(), page, size, extend, out);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return AsFile(f)->real()->pMethods->xShmLock(AsFile(f)->real(), offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) { AsFile(f)->real()->pMethods->xShmBarrier(AsFile(f)->real()); }
int ShmUnmap(sqlite3_file* f, int delete_flag) {
  return AsFile(f)->real()->pMethods->xShmUnmap(AsFile(f)->real(), delete_flag);
}
int Fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
  return AsFile(f)->real()->pMethods->xFetch(AsFile(f)->real(), offset, amount, out);
}
int Unfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
  return AsFile(f)->real()->pMethods->xUnfetch(AsFile(f)->real(), offset, p);
}

int Open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  State& s = state();
  File* file = AsFile(f);
  file->base.pMethods = nullptr;
  file->tracked = nullptr;
  bool durable_kind =
      name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL));
  if (durable_kind && !s.files.count(name)) {
    // What is on disk before this process touches it counts as synced.
    s.files[name].durable = ReadWhole(name);
  }
  int rc = s.real->xOpen(s.real, name, file->real(), flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  if (durable_kind) file->tracked = &s.files[name];
  file->base.pMethods = &s.methods;
  return SQLITE_OK;
}

int Delete(sqlite3_vfs*, const char* name, int sync_dir) {
  State& s = state();
  // A deleted file stays deleted: the directory entry is treated as durable.
  s.files.erase(name);
  return s.real->xDelete(s.real, name, sync_dir);
}

}  // namespace

void InstallPowerLossVfs(const PowerLossPlan& plan) {
  State& s = state();
  s.plan = plan;
  s.calls = 0;
  s.files.clear();
  if (s.real) return;  // already installed (one registration per process)
  s.real = sqlite3_vfs_find(nullptr);
  if (!s.real) throw std::runtime_error("no default SQLite VFS");
  if (s.real->szOsFile <= 0) throw std::runtime_error("unexpected SQLite VFS file size");
  s.vfs = *s.real;
  s.vfs.zName = "depositbot-power-loss";
  s.vfs.pNext = nullptr;
  s.vfs.szOsFile = static_cast<int>(sizeof(File)) + s.real->szOsFile;
  s.vfs.xOpen = Open;
  s.vfs.xDelete = Delete;
  s.methods = sqlite3_io_methods{3,
                                 Close,
                                 Read,
                                 Write,
                                 Truncate,
                                 Sync,
                                 FileSize,
                                 Lock,
                                 Unlock,
                                 CheckReservedLock,
                                 FileControl,
                                 SectorSize,
                                 DeviceCharacteristics,
                                 ShmMap,
                                 ShmLock,
                                 ShmBarrier,
                                 ShmUnmap,
                                 Fetch,
                                 Unfetch};
  if (sqlite3_vfs_register(&s.vfs, /*makeDflt=*/1) != SQLITE_OK) {
    throw std::runtime_error("cannot register the power-loss VFS");
  }
}

void CutPowerNow() {
  State& s = state();
  std::mt19937_64 rng(s.plan.seed);
  for (auto& [path, file] : s.files) {
    std::string image = file.durable;
    for (const PendingOp& op : file.pending) {
      if (rng() & 1) Apply(op, image);
    }
    WriteWhole(path, image);
  }
  _exit(kPowerLossExit);
}

int64_t PowerLossVfsCalls() { return state().calls; }

}  // namespace depositbot::testing
