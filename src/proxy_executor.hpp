#pragma once
// A pool opened inside a task process. The task process must not call MPI, so
// its rank opens the real pool on its behalf; this proxy sends it the encoded
// chunks and hands the encoded results back to the typed jobs. Progress happens
// while the task waits on the pool (the task process has no other thread).

#include <cstdint>
#include <map>
#include <memory>

#include "mpipool/detail/job.hpp"
#include "mpipool/options.hpp"
#include "frames.hpp"

namespace mpipool::detail {

class proxy_executor final : public executor {
 public:
  /// Asks the rank to open a pool of `workers`; throws what the rank could not do.
  proxy_executor(std::size_t workers, const pool_options& options);
  ~proxy_executor() override;
  proxy_executor(const proxy_executor&) = delete;
  proxy_executor& operator=(const proxy_executor&) = delete;

  void submit(std::shared_ptr<job> work) override;
  [[nodiscard]] std::size_t workers() const override { return workers_; }
  void wake() override {}
  void close() override { closed_ = true; }
  void join() override;
  void terminate() override;
  bool drive_until(const std::function<bool()>& done, clock::time_point deadline) override;

  /// A frame from the rank for this pool.
  void on_frame(const frame& incoming);

 private:
  struct job_record {
    std::shared_ptr<job> work;
    std::uint64_t issued = 0;
    std::uint64_t settled = 0;
    bool feeding = true;
  };

  void send_chunks();
  /// Tells the rank the pool is done; `terminate` stops its running tasks.
  void send_close(bool terminate);
  void finish_if_done(std::map<std::uint64_t, job_record>::iterator record);

  std::uint32_t id_;
  std::size_t workers_ = 0;
  bool opened_ = false;
  std::exception_ptr open_failure_;
  bool closed_ = false;
  bool terminated_ = false;
  std::map<std::uint64_t, job_record> jobs_;
  std::uint64_t next_job_ = 1;
};

}  // namespace mpipool::detail
