#include "embed/worker_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "embed_test_env.hpp"
#include "fake_sink.hpp"

using namespace w2p;
namespace py = pybind11;

TEST(WorkerPool, RunsRequestsWithTheGilAndKeepsThreadLocals) {
  test::interpreter();
  std::mutex m;
  std::condition_variable cv;
  int done = 0;
  std::vector<long> idents;
  {
    embed::WorkerPool pool(
        1, 16, [&](const std::shared_ptr<server::AppRequest>&, server::ResponseSink& sink) {
          EXPECT_TRUE(PyGILState_Check());
          // threading.local survives between requests on the same worker.
          py::module_ threading = py::module_::import("threading");
          py::module_ builtins = py::module_::import("builtins");
          if (!py::hasattr(builtins, "_w2p_local"))
            builtins.attr("_w2p_local") = threading.attr("local")();
          py::object local = builtins.attr("_w2p_local");
          int count = py::hasattr(local, "n") ? local.attr("n").cast<int>() : 0;
          local.attr("n") = count + 1;
          sink.start({}, std::to_string(count), true);
          std::lock_guard lock(m);
          idents.push_back(threading.attr("get_ident")().cast<long>());
          ++done;
          cv.notify_all();
        });
    std::vector<std::shared_ptr<test::FakeSink>> sinks;
    for (int i = 0; i < 3; ++i) {
      sinks.push_back(std::make_shared<test::FakeSink>());
      ASSERT_TRUE(pool.submit(std::make_shared<server::AppRequest>(), sinks.back()));
    }
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return done == 3; }));
    lock.unlock();
    EXPECT_EQ(sinks[0]->text, "0");
    EXPECT_EQ(sinks[1]->text, "1");
    EXPECT_EQ(sinks[2]->text, "2");
    EXPECT_EQ(idents[0], idents[2]);
    EXPECT_TRUE(pool.stop(std::chrono::seconds(30)));
  }
  test::with_gil([] { py::module_::import("builtins").attr("__delattr__")("_w2p_local"); });
}

TEST(WorkerPool, FullQueueRefuses) {
  std::mutex m;
  std::condition_variable cv;
  bool release = false, started = false;
  embed::WorkerPool pool(1, 1,
                         [&](const std::shared_ptr<server::AppRequest>&, server::ResponseSink&) {
                           py::gil_scoped_release nogil;
                           std::unique_lock lock(m);
                           started = true;
                           cv.notify_all();
                           cv.wait(lock, [&] { return release; });
                         });
  auto sink = std::make_shared<test::FakeSink>();
  ASSERT_TRUE(pool.submit(std::make_shared<server::AppRequest>(), sink));
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return started; }));
  }
  EXPECT_TRUE(pool.submit(std::make_shared<server::AppRequest>(), sink));   // queued
  EXPECT_FALSE(pool.submit(std::make_shared<server::AppRequest>(), sink));  // over the limit
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  EXPECT_TRUE(pool.stop(std::chrono::seconds(30)));
}
