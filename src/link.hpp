#pragma once
// A link is one intercommunicator between a pool's master and its workers,
// whether the workers were started by mpirun or by MPI_Comm_spawn. It sends
// without blocking and keeps each buffer alive until MPI is done with it.
// Messages arrive into a receive posted in advance: MPI copies a message into it as
// it arrives, instead of queueing it as unexpected for a probe to find, and testing
// it costs less than a probe (a round trip between two polling ranks: 0.51 to 0.60 us
// with MPI_Improbe and MPI_Mrecv, 0.39 to 0.42 us with a posted receive, on the 2-core
// VM). So a message must fit that receive: a larger one, or one with borrowed bytes
// (borrowed_bytes.hpp), goes as a small header followed by its parts, which are
// joined again on receipt.

#include <mpi.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "mpipool/detail/borrowed_bytes.hpp"
#include "mpipool/detail/byte_buffer.hpp"

namespace mpipool::detail {

struct message {
  int source = -1;
  int tag = -1;
  byte_buffer body;
};

/// Sends may come from several threads (a task's sub-pool returns slots while the
/// worker loop runs); a mutex guards the pending-send lists.
class link {
 public:
  /// Takes ownership of `comm`: sets MPI_ERRORS_RETURN on it and frees it on destruction.
  explicit link(MPI_Comm comm);
  ~link();
  link(const link&) = delete;
  link& operator=(const link&) = delete;

  [[nodiscard]] int remote_size() const { return remote_size_; }
  [[nodiscard]] MPI_Comm comm() const { return comm_; }

  /// Sends a message; small ones at once, larger ones without blocking (the buffer
  /// is kept until MPI is done with it).
  void send(int dest, int tag, byte_buffer body);
  /// As send(), but a small message leaves at once and `body` keeps its memory for
  /// the next message (a round trip made eight allocations on the master); a larger
  /// one is moved out, leaving `body` empty.
  void send_keeping(int dest, int tag, byte_buffer& body);
  /// As send(), for a buffer others keep too (a chunk the master may have to resend).
  void send(int dest, int tag, std::shared_ptr<const byte_buffer> body);
  /// As send(), with the bytes at each span's offset taken from the span's own memory.
  void send(int dest, int tag, byte_buffer body, std::vector<borrowed_span> borrowed);
  /// As above, for a buffer others keep too (a chunk with adopted vectors, kept to resend).
  void send(int dest, int tag, std::shared_ptr<const byte_buffer> body, const std::vector<borrowed_span>& borrowed);
  /// Completes finished sends; true if any completed.
  bool progress_sends();
  [[nodiscard]] bool sends_pending() const { return pending_.load(std::memory_order_acquire) != 0; }
  /// Whether a send of large_send_bytes or more may still be moving. Without a
  /// single-copy path (CMA, XPMEM), and over TCP, Open MPI moves such a message in
  /// fragments, each only when the sender makes an MPI call: the loop that owns this
  /// link must poll, not nap.
  [[nodiscard]] bool large_send_moving() const;

  /// True if a message is waiting to be received.
  [[nodiscard]] bool receive_pending();

  /// When the receive that the next message arrives into is posted, after one is taken.
  enum class next_receive {
    post_now,  // more messages may be on their way: each would arrive unexpected, and be copied once more
    post_on_next_look,  // a reply is due first: the MPI_Irecv (~0.1 us) waits until after it is sent
  };
  /// The next whole message from any remote process, if one has arrived (in the
  /// order they were sent); nothing while another thread receives.
  std::optional<message> receive(next_receive then = next_receive::post_now);
  /// The next message with `tag`, if one has arrived; messages before it are kept for
  /// receive(). For a thread that needs one answer while the loop that owns the link
  /// may be blocked in the very task that waits for it (a sub-pool's slot request).
  std::optional<message> receive_tagged(int tag);
  /// Gives back a received body: the next small receive reuses its memory.
  void recycle(byte_buffer body);

  /// Disconnects instead of freeing: required for spawned workers, so that
  /// MPI_Finalize on either side does not wait for the other.
  void disconnect_on_close() { disconnect_ = true; }

  /// The largest part sent in one MPI call; MPIPOOL_MAX_MESSAGE_BYTES overrides it for tests.
  static std::size_t max_part_bytes();

  using clock = std::chrono::steady_clock;
  /// When anything last arrived from `source` (heartbeats included).
  [[nodiscard]] clock::time_point last_heard(int source) const;
  /// Receives pending heartbeats only, leaving every other message; returns how many.
  int drain_heartbeats();
  /// Sends a heartbeat to every remote process.
  void send_heartbeats();
  /// A remote process died: free the communicator instead of a disconnect that would wait for it.
  void mark_broken() {
    disconnect_ = false;
    broken_ = true;
  }

 private:
  /// Starts one MPI_Isend; sends_mutex_ must be held.
  void post(int dest, int tag, const std::byte* data, std::size_t size, std::shared_ptr<const void> owner);
  /// Sends `body` as a header with the part sizes, then the parts, with `borrowed`
  /// spans in place of their bytes; sends_mutex_ must be held.
  void post_parts(int dest, int tag, const std::shared_ptr<const byte_buffer>& body,
                  const std::vector<borrowed_span>& borrowed);
  /// Posts the receive that the next message arrives into.
  void post_receive();
  /// The message in the posted receive, if one arrived; receive_mutex_ held.
  std::optional<message> take_arrived(next_receive then);
  /// Receives the parts that follow a split message's header `incoming` and joins them.
  void join_parts(message& incoming);

  // Below every BTL's eager limit, Open MPI's header included (4 KiB shared memory, 64
  // KiB TCP): such a send completes at once, and a posted receive takes it whole.
  static constexpr std::size_t small_message_bytes = 4096 - 128;
  // The receive posted in advance takes messages up to this size; a larger one goes
  // split. A tasks or results message of one-item chunks runs to some KiB: split, W1 at
  // chunksize 1 lost 10 to 25% to the extra header message and receive.
  static constexpr std::size_t posted_bytes = std::size_t{64} << 10;
  // Smaller sends finish within the spin before a loop's first nap. Counting them too
  // (from 4 KiB) cost 5 to 20% of W1 at the default chunksize on an oversubscribed node.
  static constexpr std::size_t large_send_bytes = std::size_t{1} << 20;

  MPI_Comm comm_;
  int remote_size_ = 0;
  bool disconnect_ = false;
  bool broken_ = false;  // a remote process died
  std::vector<MPI_Request> requests_;
  std::vector<std::shared_ptr<const void>> owners_;  // what each request sends from
  void heard(int source);

  std::vector<int> completed_;  // scratch for MPI_Testsome

  std::mutex receive_mutex_;  // guards what follows, up to last_heard_
  MPI_Request posted_ = MPI_REQUEST_NULL;  // the receive the next message arrives into
  byte_buffer posted_body_;        // posted_bytes; a message over small_message_bytes leaves in it
  byte_buffer spare_posted_body_;  // a recycled one, posted next
  byte_buffer spare_body_;         // recycled for the next small message
  std::deque<message> held_;       // passed over by receive_tagged, for receive()
  std::exception_ptr held_error_;  // a message receive_tagged failed to take, for receive()

  std::unique_ptr<std::atomic<clock::rep>[]> last_heard_;
  mutable std::mutex sends_mutex_;
  std::atomic<std::size_t> pending_{0};  // requests_.size(), readable without the lock
  // Until when a large send may still be moving: its size at a slow 256 MB/s, plus 1 ms.
  // Bounded, so that a send to a peer busy with a long task does not keep us spinning.
  std::atomic<clock::rep> keep_polling_until_{0};
};

}  // namespace mpipool::detail
