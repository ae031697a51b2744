#pragma once
// Linux rounds short sleeps up by the thread's timer slack (50 us by default).
// Our idle loops sleep 1 us, 2 us, 4 us, ... after a burst of work; a slack of
// 1 us lets those naps be as short as asked, so a result is noticed promptly.

#include <sys/prctl.h>

namespace mpipool::detail {

inline void set_fine_timer_slack() { prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL); }

/// Fine slack for the life of the scope, then the thread's own slack again.
class timer_slack_scope {
 public:
  timer_slack_scope() : saved_(prctl(PR_GET_TIMERSLACK, 0UL, 0UL, 0UL, 0UL)) { set_fine_timer_slack(); }
  ~timer_slack_scope() {
    if (saved_ > 0) prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(saved_), 0UL, 0UL, 0UL);
  }
  timer_slack_scope(const timer_slack_scope&) = delete;
  timer_slack_scope& operator=(const timer_slack_scope&) = delete;

 private:
  int saved_;
};

}  // namespace mpipool::detail
