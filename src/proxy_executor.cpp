#include "proxy_executor.hpp"

#include <algorithm>

#include "error_record.hpp"
#include "mpipool/detail/byte_reader.hpp"
#include "task_process.hpp"
#include "wire.hpp"

namespace mpipool::detail {

namespace {
constexpr auto longest_nap = std::chrono::milliseconds(1);
}

proxy_executor::proxy_executor(std::size_t workers, const pool_options& options)
    : id_(task_process::current().add_proxy(this)) {
  byte_buffer open;
  const auto start = begin_frame(open, frame_kind::proxy_open);
  open.put(id_);
  open.put(static_cast<std::uint32_t>(workers));
  wire::put_pool_options(open, options);
  end_frame(open, start);
  task_process::current().send(open);
  drive_until([this] { return opened_ || open_failure_; }, clock::time_point::max());
  if (open_failure_) {
    task_process::current().remove_proxy(id_);
    std::rethrow_exception(open_failure_);
  }
}

proxy_executor::~proxy_executor() {
  try {
    closed_ = true;
    join();
  } catch (...) {
  }
  if (!terminated_) send_close(false);
  task_process::current().remove_proxy(id_);
}

void proxy_executor::send_close(bool terminate) {
  byte_buffer close;
  const auto start = begin_frame(close, frame_kind::proxy_close);
  close.put(id_);
  close.put<std::uint8_t>(terminate ? 1 : 0);
  end_frame(close, start);
  task_process::current().send(close);
}

void proxy_executor::submit(std::shared_ptr<job> work) {
  if (closed_) {
    throw pool_closed("the pool is closed: no new tasks are accepted after close() or terminate(); "
                      "create a new pool");
  }
  const auto id = next_job_++;
  jobs_.emplace(id, job_record{std::move(work)});
  try {
    send_chunks();
  } catch (...) {
    // The caller sees this error and may free its items (a blocking map cuts chunks
    // from them as they leave): this job must never read them again. Results of
    // chunks it already sent find no job and are dropped.
    if (auto it = jobs_.find(id); it != jobs_.end()) {
      auto abandoned = std::move(it->second.work);
      jobs_.erase(it);
      abandoned->abandon(std::current_exception());
    }
    throw;
  }
}

void proxy_executor::send_chunks() {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    auto& record = it->second;
    encoded_chunk chunk;
    while (record.feeding && record.work->next_chunk(chunk)) {
      const auto& settings = record.work->settings();
      byte_buffer submit;
      const auto start = begin_frame(submit, frame_kind::proxy_submit);
      submit.put(id_);
      submit.put(it->first);
      submit.put(settings.task);
      submit.put<std::int32_t>(settings.retries);
      submit.put<std::int64_t>(settings.timeout.count());
      submit.put<std::uint64_t>(chunk.first_index);
      submit.put(chunk.count);
      submit.put(chunk.item_size);
      const auto items = chunk.item_bytes();
      submit.append(items.data(), items.size());
      end_frame(submit, start);
      task_process::current().send(submit);
      record.issued += chunk.count;
      chunk = encoded_chunk();
    }
    if (record.feeding && record.work->input_done()) record.feeding = false;
    auto current = it++;
    finish_if_done(current);  // an empty input finishes at once
  }
}

void proxy_executor::finish_if_done(std::map<std::uint64_t, job_record>::iterator record) {
  if (record->second.feeding || record->second.settled != record->second.issued) return;
  auto work = std::move(record->second.work);
  jobs_.erase(record);
  work->finish();
}

void proxy_executor::on_frame(const frame& incoming) {
  byte_reader in(incoming.body.view());
  in.get<std::uint32_t>();  // our id
  if (incoming.kind == frame_kind::proxy_opened) {
    if (in.get<std::uint8_t>() != 0) {
      workers_ = in.get<std::uint32_t>();
      opened_ = true;
    } else {
      const auto record = in.take(in.remaining());
      open_failure_ = read_error(record);
    }
    return;
  }
  if (incoming.kind != frame_kind::proxy_result) return;
  const auto job_id = in.get<std::uint64_t>();
  const auto index = in.get<std::uint64_t>();
  const auto status = static_cast<wire::item_status>(in.get<std::uint8_t>());
  const auto payload = in.take(in.remaining());
  auto found = jobs_.find(job_id);
  if (found == jobs_.end()) return;  // terminated
  std::uint32_t items = 1;
  if (status == wire::item_status::ok) {
    found->second.work->deliver(index, payload);
  } else if (status == wire::item_status::ok_run) {
    byte_reader run(payload);
    items = run.get<std::uint32_t>();
    const auto results = run.take(run.remaining());
    found->second.work->deliver_run(index, items, items == 0 ? 0 : results.size() / items, results);
  } else {
    found->second.work->deliver_error(index, read_error(payload));
  }
  found->second.settled += items;
  finish_if_done(found);
}

bool proxy_executor::drive_until(const std::function<bool()>& done, clock::time_point deadline) {
  auto& process = task_process::current();
  for (;;) {
    if (done()) return true;
    const auto now = clock::now();
    if (now >= deadline) return false;
    send_chunks();  // an imap consumer may have made room
    const auto nap = std::min<clock::duration>(longest_nap, deadline - now);
    process.pump(std::chrono::duration_cast<std::chrono::microseconds>(nap));
  }
}

void proxy_executor::join() {
  if (!closed_) throw error("join() needs close() or terminate() first, as in Python");
  drive_until([this] { return jobs_.empty(); }, clock::time_point::max());
}

void proxy_executor::terminate() {
  closed_ = true;
  auto abandoned = std::move(jobs_);
  jobs_.clear();
  for (auto& [id, record] : abandoned) {
    record.work->abandon(std::make_exception_ptr(pool_closed("the pool was terminated before this task finished")));
  }
  terminated_ = true;
  send_close(true);
}

}  // namespace mpipool::detail
