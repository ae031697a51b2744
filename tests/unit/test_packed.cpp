// The packed fast path's pieces: the typed loop with its runs of results, the
// chunk layouts, and the master's per-item settled flags.

#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <mpipool/detail/job.hpp>
#include <mpipool/serialization.hpp>
#include <mpipool/task.hpp>

#include "chunk_items.hpp"
#include "error_record.hpp"
#include "manager.hpp"
#include "packed_run.hpp"

namespace {

int halve_even(int x) {
  if (x % 2 != 0) throw std::invalid_argument(std::to_string(x) + " is odd");
  return x / 2;
}
MPIPOOL_TASK(halve_even);

std::string scaled_label(double x, int factor) { return std::to_string(x * factor); }
MPIPOOL_TASK(scaled_label);

// What the typed loop says it runs, as each item saw it: (index, span).
mpipool::detail::running_item running;
std::vector<std::pair<std::uint32_t, std::uint32_t>> seen;

int note_running(int x) {
  seen.emplace_back(running.index.load(), running.span.load());
  return x;
}
MPIPOOL_TASK(note_running);

struct record {
  std::uint32_t item;
  mpipool::detail::wire::item_status status;
  std::vector<int> values;  // a run's results
  std::string message;      // a failure's
};

std::vector<record> run_all(const std::vector<int>& inputs, std::uint32_t first,
                            mpipool::detail::item_tracking tracking = mpipool::detail::item_tracking::on_failure) {
  using namespace mpipool::detail;
  encoded_chunk chunk;
  for (int x : inputs) append_item(chunk, x);
  const task_entry* entry = registry::instance().find(registry::instance().id_of(erase(&halve_even)));
  REQUIRE(runs_packed(entry, chunk.item_size, chunk.item_bytes(), chunk.count));
  std::vector<record> out;
  // Collects what run_packed writes, as a results message would hold it.
  struct collecting_sink {
    std::vector<record>& out;
    std::vector<std::byte> run;
    std::uint32_t run_item = 0;
    void reserve(std::size_t) {}
    std::byte* open_run(std::uint32_t item, std::size_t max_bytes) {
      run.assign(max_bytes, std::byte{0xee});
      run_item = item;
      return run.data();
    }
    void close_run(std::uint32_t count, std::size_t bytes) {
      if (count == 0) return;
      std::uint32_t written = 0;
      std::memcpy(&written, run.data(), sizeof written);
      REQUIRE(written == count);
      REQUIRE(bytes == sizeof written + count * sizeof(int));
      record r{run_item, wire::item_status::ok_run, std::vector<int>(count), {}};
      std::memcpy(r.values.data(), run.data() + sizeof written, count * sizeof(int));
      out.push_back(std::move(r));
    }
    void failed(std::uint32_t item, std::span<const std::byte> payload) {
      record r{item, wire::item_status::failed, {}, {}};
      try {
        std::rethrow_exception(read_error(payload));
      } catch (const std::exception& e) {
        r.message = e.what();
      }
      out.push_back(std::move(r));
    }
  } sink{out, {}, 0};
  running.index.store(0);
  running.span.store(1);
  run_packed(*entry, chunk.item_bytes(), chunk.item_size, first, chunk.count, tracking, running, mpipool::origin{},
             sink);
  return out;
}

}  // namespace

TEST_CASE("a packed chunk runs as one run of results", "[packed]") {
  const auto records = run_all({2, 4, 6, 8}, 10);
  REQUIRE(records.size() == 1);
  CHECK(records[0].item == 10);
  CHECK(records[0].status == mpipool::detail::wire::item_status::ok_run);
  CHECK(records[0].values == std::vector<int>{1, 2, 3, 4});
}

TEST_CASE("an item that throws splits the run and fails alone", "[packed]") {
  const auto records = run_all({2, 4, 5, 6, 7, 7, 10}, 0);
  using mpipool::detail::wire::item_status;
  REQUIRE(records.size() == 6);
  CHECK((records[0].item == 0 && records[0].status == item_status::ok_run && records[0].values == std::vector{1, 2}));
  CHECK((records[1].item == 2 && records[1].status == item_status::failed));
  CHECK_THAT(records[1].message, Catch::Contains("5 is odd") && Catch::Contains("halve_even"));
  CHECK((records[2].item == 3 && records[2].status == item_status::ok_run && records[2].values == std::vector{3}));
  CHECK((records[3].item == 4 && records[3].status == item_status::failed));
  CHECK((records[4].item == 5 && records[4].status == item_status::failed));  // two in a row
  CHECK((records[5].item == 6 && records[5].status == item_status::ok_run && records[5].values == std::vector{5}));
}

TEST_CASE("an item that throws inside a block of the typed loop keeps the results before it", "[packed]") {
  using mpipool::detail::item_tracking;
  using mpipool::detail::wire::item_status;
  // The typed loop runs whole blocks of 16 through local arrays; odd numbers throw
  // at places 20 (inside a block) and 37 (among the items after the last block).
  std::vector<int> inputs(40);
  for (std::size_t i = 0; i < inputs.size(); ++i) inputs[i] = static_cast<int>(2 * i);
  inputs[20] = 3;
  inputs[37] = 5;
  for (const auto tracking : {item_tracking::on_failure, item_tracking::every_block}) {
    const auto records = run_all(inputs, 100, tracking);
    std::vector<int> results(inputs.size(), -1);
    std::vector<std::uint32_t> failed;
    for (const auto& r : records) {
      if (r.status == item_status::failed) {
        failed.push_back(r.item - 100);
        continue;
      }
      for (std::size_t k = 0; k < r.values.size(); ++k) results[r.item - 100 + k] = r.values[k];
    }
    CHECK(failed == std::vector<std::uint32_t>{20, 37});
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (i == 20 || i == 37) continue;
      CHECK(results[i] == static_cast<int>(i));  // every other item answered once, with its own result
    }
  }
}

TEST_CASE("a task process's typed loop names each block it runs, and each item after the last block", "[packed]") {
  using namespace mpipool::detail;
  const task_entry& entry = registry::instance().entry(registry::instance().id_of(erase(&note_running)));
  auto loop_over = [&](packed_invoker loop, std::uint32_t count, std::uint32_t first) {
    const std::vector<int> args(count, 1);
    std::vector<int> results(count);
    seen.clear();
    running.index.store(0);
    running.span.store(1);
    loop(reinterpret_cast<const std::byte*>(args.data()), count, reinterpret_cast<std::byte*>(results.data()), first,
         running);
    CHECK(results == args);
    REQUIRE(seen.size() == count);
  };
  // 40 items from item 100: two whole blocks of 16, then 8 items one by one.
  loop_over(entry.run_packed_tracked, 40, 100);
  for (std::uint32_t p = 0; p < 40; ++p) {
    const auto expected = p < 32 ? std::pair{100 + p / 16 * 16, 16U} : std::pair{100 + p, 1U};
    CHECK(seen[p] == expected);
  }
  // A chunk of one block or less (such as the re-run of a block a task process died in) runs item by item.
  loop_over(entry.run_packed_tracked, 16, 7);
  for (std::uint32_t p = 0; p < 16; ++p) CHECK(seen[p] == std::pair{7 + p, 1U});
  // A rank's own loop names nothing until an item throws.
  loop_over(entry.run_packed, 40, 100);
  for (const auto& s : seen) CHECK(s == std::pair{0U, 1U});
}

TEST_CASE("a long chunk leaves in several runs that together hold every result", "[packed]") {
  std::vector<int> inputs(100'000);
  for (std::size_t i = 0; i < inputs.size(); ++i) inputs[i] = static_cast<int>(2 * i);
  const auto records = run_all(inputs, 5);
  REQUIRE(records.size() > 1);  // slices start at 16 items: never one run for 100,000
  std::uint32_t next = 5;
  for (const auto& r : records) {
    REQUIRE(r.status == mpipool::detail::wire::item_status::ok_run);
    REQUIRE(r.item == next);
    for (std::size_t k = 0; k < r.values.size(); ++k) CHECK(r.values[k] == static_cast<int>(r.item - 5 + k));
    next += static_cast<std::uint32_t>(r.values.size());
  }
  CHECK(next == 5 + 100'000);
}

TEST_CASE("a task whose result is not arithmetic has no packed loop", "[packed]") {
  using namespace mpipool::detail;
  encoded_chunk chunk;
  append_item(chunk, 1.5, 2);
  CHECK(chunk.item_size == sizeof(double) + sizeof(int));  // its arguments still travel packed
  const task_entry* entry = registry::instance().find(registry::instance().id_of(erase(&scaled_label)));
  CHECK_FALSE(runs_packed(entry, chunk.item_size, chunk.item_bytes(), chunk.count));
  // Item by item, a packed item is exactly the encoding the task's invoker reads.
  byte_buffer result;
  entry->invoke(chunk_items(chunk.item_bytes(), chunk.item_size).item(0), result);
  CHECK(mpipool::from_bytes<std::string>(result.view()) == std::to_string(3.0));
}

TEST_CASE("bytes that do not add up to whole items do not run packed", "[packed]") {
  using namespace mpipool::detail;
  encoded_chunk chunk;
  append_item(chunk, 2);
  append_item(chunk, 4);
  const task_entry* entry = registry::instance().find(registry::instance().id_of(erase(&halve_even)));
  CHECK(runs_packed(entry, 4, chunk.item_bytes(), 2));
  CHECK_FALSE(runs_packed(entry, 4, chunk.item_bytes(), 3));
  CHECK_FALSE(runs_packed(entry, 8, chunk.item_bytes(), 1));  // not the task's argument size
  CHECK_FALSE(runs_packed(nullptr, 4, chunk.item_bytes(), 2));
  CHECK_THROWS_WITH(chunk_items(chunk.item_bytes(), 4).item(2), Catch::Contains("has no item 2"));
}

TEST_CASE("chunk_items slices both layouts", "[packed]") {
  using namespace mpipool::detail;
  encoded_chunk packed;
  for (int x : {10, 20, 30}) append_item(packed, x);
  const chunk_items p(packed.item_bytes(), packed.item_size);
  CHECK(p.slice(1, 3).size() == 2 * sizeof(int));
  int second = 0;
  std::memcpy(&second, p.item(1).data(), sizeof second);
  CHECK(second == 20);

  encoded_chunk framed;
  for (const char* text : {"a", "bb", "ccc"}) append_item(framed, std::string(text));
  const chunk_items f(framed.item_bytes(), framed.item_size);
  CHECK(mpipool::from_bytes<std::string>(f.item(2)) == "ccc");
  CHECK(f.slice(1, 3).size() == 2 * sizeof(std::uint64_t) + (8 + 2) + (8 + 3));
  item_cursor cursor(framed.item_bytes(), 0);
  CHECK(mpipool::from_bytes<std::string>(cursor.next()) == "a");
  CHECK(mpipool::from_bytes<std::string>(cursor.next()) == "bb");
}

TEST_CASE("item_flags sets and tests ranges across word boundaries", "[packed]") {
  mpipool::detail::item_flags flags;
  flags.reset(200);
  CHECK(flags.none_in(0, 200));
  flags.set_range(60, 70);  // bits 60..129: three words
  CHECK(flags.test(60));
  CHECK(flags.test(129));
  CHECK_FALSE(flags.test(59));
  CHECK_FALSE(flags.test(130));
  CHECK(flags.none_in(0, 60));
  CHECK(flags.none_in(130, 70));
  CHECK_FALSE(flags.none_in(129, 5));
  flags.set(199);
  CHECK_FALSE(flags.none_in(150, 50));

  flags.reset(64);  // one word, no allocation
  flags.set_range(0, 64);
  CHECK(flags.test(63));
  flags.reset(10);
  CHECK(flags.none_in(0, 10));
}
