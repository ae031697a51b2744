#pragma once
// Linux rounds short sleeps up by the thread's timer slack (50 us by default).
// Our idle loops sleep 1 us, 2 us, 4 us, ... after a burst of work; a slack of
// 1 us lets those naps be as short as asked, so a result is noticed promptly.

#include <sys/prctl.h>

#include <thread>

namespace mpipool::detail {

inline void set_fine_timer_slack() { prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL); }

/// Fine slack from the first sleep() on, then the thread's own slack again: a wait
/// that never sleeps makes no system call for it.
class timer_slack_scope {
 public:
  timer_slack_scope() = default;
  ~timer_slack_scope() {
    if (saved_ > 0) prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(saved_), 0UL, 0UL, 0UL);
  }
  timer_slack_scope(const timer_slack_scope&) = delete;
  timer_slack_scope& operator=(const timer_slack_scope&) = delete;

  template <class Duration>
  void sleep(Duration nap) {
    if (saved_ == 0) {
      saved_ = prctl(PR_GET_TIMERSLACK, 0UL, 0UL, 0UL, 0UL);
      set_fine_timer_slack();
    }
    std::this_thread::sleep_for(nap);
  }

 private:
  int saved_ = 0;
};

}  // namespace mpipool::detail
