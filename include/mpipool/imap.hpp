#pragma once
// The lazy range that imap and imap_unordered return.

#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <utility>

#include "mpipool/async_result.hpp"
#include "mpipool/detail/job.hpp"
#include "mpipool/detail/stream_job.hpp"

namespace mpipool {

/// Results of imap (input order) or imap_unordered (arrival order), yielded as
/// they arrive. Dereferencing an item whose task failed throws its error; the
/// iteration can go on past it. Iterate it once.
/// @code
/// for (int y : pool.imap_unordered(square, std::views::iota(0, 10'000'000))) total += y;
/// @endcode
template <class R>
class imap_range {
 public:
  using value_type = detail::stored_t<R>;

  imap_range(std::shared_ptr<detail::stream_buffer<R>> buffer, std::shared_ptr<detail::executor> executor)
      : buffer_(std::move(buffer)), executor_(std::move(executor)) {}
  imap_range(imap_range&&) noexcept = default;
  imap_range& operator=(imap_range&&) noexcept = default;
  imap_range(const imap_range&) = delete;
  imap_range& operator=(const imap_range&) = delete;

  /// Leaving a loop early cancels the rest: no more input is read.
  ~imap_range() {
    if (!buffer_) return;
    buffer_->cancel();
    executor_->wake();
  }

  class iterator {
   public:
    using value_type = imap_range::value_type;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;

    iterator() = default;
    explicit iterator(imap_range* range) : range_(range) { fetch(); }

    /// The item's value; throws the item's error if its task failed.
    value_type operator*() const {
      if constexpr (std::is_void_v<R>) {
        current_->value();
        return {};
      } else {
        return current_->value();
      }
    }
    /// The item's outcome, for callers who do not want an exception.
    [[nodiscard]] const outcome<R>& item() const { return *current_; }

    iterator& operator++() {
      fetch();
      return *this;
    }
    void operator++(int) { fetch(); }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return !it.current_.has_value(); }

   private:
    void fetch() {
      bool freed = false;
      current_ = range_->buffer_->pop(freed);
      if (freed) range_->executor_->wake();  // the engine waits for this room to pull more input
    }
    imap_range* range_ = nullptr;
    std::optional<outcome<R>> current_;
  };

  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

 private:
  std::shared_ptr<detail::stream_buffer<R>> buffer_;
  std::shared_ptr<detail::executor> executor_;
};

}  // namespace mpipool
