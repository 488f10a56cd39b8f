"""Lesson 09: the exact solution of the heat equation (and why it is the one), the PINN building blocks,
the batched training of the ablation, and the explorer.

The full-size training of ``heat.train_pinn`` (about 45 s) is not run here: ``bench/pinn.py`` runs it.
"""

import math

import numpy as np
import pytest
import torch

from course_utils import heat
from course_utils.widgets.pinn import pinn_explorer


# -- the exact solution -------------------------------------------------------------------------

def test_fourier_coefficients_match_a_quadrature_of_the_initial_condition():
    m = 4000
    x = -1.0 + 2.0 * np.arange(m) / m  # periodic grid: the plain sum is spectrally accurate
    quadrature = [2.0 / m * np.sum(heat.initial_condition(x) * np.cos(n * math.pi * x)) for n in range(61)]
    np.testing.assert_allclose(heat.fourier_coefficients(60), quadrature, rtol=0, atol=1e-13)


def test_series_starts_at_the_initial_condition_and_converges():
    x = np.linspace(-1, 1, 2001)
    gaps = [np.abs(heat.exact_solution(x, 0.0, n_terms=n) - heat.initial_condition(x)).max() for n in (5, 10, 20, 40)]
    assert all(a > b for a, b in zip(gaps, gaps[1:])), gaps
    assert gaps[2] < 1e-5 and gaps[3] < 1e-12


@pytest.mark.parametrize("k", [heat.K, 0.1])
def test_exact_solution_satisfies_the_heat_equation(k):
    rng = np.random.default_rng(0)
    x, t, h = rng.uniform(-1, 1, 500), rng.uniform(0.05, 1.0, 500), 1e-3
    u = lambda x, t: heat.exact_solution(x, t, k)  # noqa: E731
    u_t = (u(x, t + h) - u(x, t - h)) / (2 * h)
    u_xx = (u(x + h, t) - 2 * u(x, t) + u(x - h, t)) / h ** 2
    assert np.abs(u_t - k * u_xx).max() < 1e-3 * np.abs(u_t).max()


def test_exact_solution_is_periodic_even_and_conserves_heat():
    t = np.linspace(0, 1, 11)
    assert np.array_equal(heat.exact_solution(-1.0, t), heat.exact_solution(1.0, t))
    x = np.linspace(-1, 1, 101)
    np.testing.assert_allclose(heat.exact_solution(x, 0.3), heat.exact_solution(-x, 0.3), atol=1e-15)
    # periodic boundaries: no heat leaves, so the integral over one period stays a_0 = 0.1 sqrt(pi)
    m = 512
    grid = -1.0 + 2.0 * np.arange(m) / m
    totals = [2.0 / m * heat.exact_solution(grid, time).sum() for time in t]
    np.testing.assert_allclose(totals, 0.1 * math.sqrt(math.pi), rtol=1e-12)
    peaks = heat.exact_solution(0.0, t)
    assert np.all(np.diff(peaks) < 0) and peaks[0] == pytest.approx(1.0)


def test_exact_on_grid_has_one_row_per_time():
    x, t = heat.grid(21, 6)
    exact = heat.exact_on_grid(x, t)
    assert exact.shape == (6, 21)
    np.testing.assert_allclose(exact[3], heat.exact_solution(x, t[3]))


def test_closed_form_of_the_issue_is_the_free_space_solution_with_the_lessons_k():
    rng = np.random.default_rng(1)
    x, t = rng.uniform(-1, 1, 300), rng.uniform(0, 1, 300)
    formula = np.sqrt(0.25 / (0.25 + t)) * np.exp(-x**2 / (0.04 * (0.25 + t)))
    np.testing.assert_allclose(heat.free_space_solution(x, t), formula, rtol=1e-12)
    # the variance 0.04 (0.25 + t) = WIDTH^2 + 4 k t fixes k
    assert 0.04 / 4 == pytest.approx(heat.K) and 0.04 * 0.25 == pytest.approx(heat.WIDTH**2)
    h, u = 1e-3, heat.free_space_solution
    t = t + 0.05  # keep t - h > 0
    u_t = (u(x, t + h) - u(x, t - h)) / (2 * h)
    u_xx = (u(x + h, t) - 2 * u(x, t) + u(x - h, t)) / h**2
    assert np.abs(u_t - heat.K * u_xx).max() < 1e-3 * np.abs(u_t).max()


def test_images_turn_the_closed_form_into_the_fourier_series():
    x, t = heat.grid(101, 21)
    exact = heat.exact_on_grid(x, t)
    alone = np.abs(heat.free_space_solution(x[None, :], t[:, None]) - exact).max()
    images = np.abs(heat.periodic_images(x[None, :], t[:, None], images=1) - exact).max()
    assert 1e-12 < alone < 1e-8 and images < 1e-14


def test_heated_ends_is_a_second_solution_of_the_stated_problem():
    x = np.linspace(-1, 1, 401)
    assert np.abs(heat.heated_ends(x, 0.0)).max() < 1e-5  # starts at 0 (series truncation)
    t = np.linspace(0, 1, 11)
    np.testing.assert_allclose(heat.heated_ends(-1.0, t), 0.5 * t, atol=1e-15)
    np.testing.assert_allclose(heat.heated_ends(1.0, t), 0.5 * t, atol=1e-15)
    rng = np.random.default_rng(2)
    xs, ts, h = rng.uniform(-0.99, 0.99, 300), rng.uniform(0.05, 1, 300), 1e-3
    w = heat.heated_ends
    w_t = (w(xs, ts + h) - w(xs, ts - h)) / (2 * h)
    w_xx = (w(xs + h, ts) - 2 * w(xs, ts) + w(xs - h, ts)) / h**2
    assert np.abs(w_t - heat.K * w_xx).max() < 1e-3 * np.abs(w_t).max()
    slope = lambda side: (w(side + 1e-5, 0.5) - w(side - 1e-5, 0.5)) / 2e-5  # noqa: E731
    assert slope(1.0) > 1 and slope(-1.0) == pytest.approx(-slope(1.0))  # u_x is not periodic


def test_relative_l2_per_leading_index():
    u = np.ones((3, 4))
    stack = np.stack([u, 1.5 * u, np.zeros_like(u)])
    np.testing.assert_allclose(heat.relative_l2(stack, u), [0.0, 0.5, 1.0])


# -- the PINN ------------------------------------------------------------------------------------

def test_heat_pinn_is_periodic_and_exact_at_t0_for_any_weights():
    torch.manual_seed(1)
    model = heat.HeatPINN(harmonics=3, width=8, depth=2).double()
    t = torch.rand(50, 1, dtype=torch.float64)
    x = 2 * torch.rand(50, 1, dtype=torch.float64) - 1
    with torch.no_grad():
        assert torch.allclose(model(-torch.ones_like(t), t), model(torch.ones_like(t), t), atol=1e-12)
        # the network part repeats with period 2; u0 itself only on [-1, 1] (it is below e^-100 at the ends)
        network = lambda x: model(x, t) - heat.initial_condition(x)  # noqa: E731
        assert torch.allclose(network(x + 2), network(x), atol=1e-12)
        assert torch.equal(model(x, torch.zeros_like(x)), heat.initial_condition(x))


def test_residual_by_autograd_matches_finite_differences():
    torch.manual_seed(0)
    model = heat.HeatPINN(width=16, depth=2).double()
    x = 2 * torch.rand(40, 1, dtype=torch.float64) - 1
    t = 0.1 + 0.8 * torch.rand(40, 1, dtype=torch.float64)
    residual = heat._residual(model, x, t, 0.05).detach()
    h = 1e-4
    with torch.no_grad():
        u_t = (model(x, t + h) - model(x, t - h)) / (2 * h)
        u_xx = (model(x + h, t) - 2 * model(x, t) + model(x - h, t)) / h ** 2
    torch.testing.assert_close(residual, u_t - 0.05 * u_xx, rtol=1e-4, atol=1e-5)


def test_residual_of_a_true_solution_is_zero():
    class Mode(torch.nn.Module):  # cos(2 pi x) exp(-k (2 pi)^2 t) solves the equation
        def forward(self, x, t):
            return torch.cos(2 * math.pi * x) * torch.exp(-heat.K * (2 * math.pi) ** 2 * t)

    x = torch.linspace(-1, 1, 30, dtype=torch.float64)[:, None]
    t = torch.linspace(0, 1, 30, dtype=torch.float64)[:, None]
    assert heat._residual(Mode(), x, t, heat.K).abs().max() < 1e-12


def test_short_training_is_seeded_runs_lbfgs_fully_and_restores_threads():
    threads = torch.get_num_threads()
    settings = dict(adam_steps=30, n_points=64, lbfgs_iterations=15, n_lbfgs_points=64, record_every=10)
    a = heat.train_pinn(seed=3, **settings)
    b = heat.train_pinn(seed=3, **settings)
    assert torch.get_num_threads() == threads
    assert a.rel_l2 == b.rel_l2 and a.history["loss"] == b.history["loss"]
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)
    assert a.lbfgs_iterations == 15  # not stopped early by a tolerance
    assert set(a.history["phase"]) == {"adam", "lbfgs", "end"}
    assert a.history["loss"][-1] < a.history["loss"][0]
    assert a.seconds > 0 and a.cpu_seconds > 0
    c = heat.train_pinn(seed=4, **settings)
    assert c.rel_l2 != a.rel_l2


def test_plain_and_soft_variants_of_heat_pinn():
    torch.manual_seed(0)
    plain = heat.HeatPINN(width=8, depth=2, periodic=False, hard_initial=False)
    assert plain.net[0].in_features == 2
    t = torch.rand(20, 1)
    with torch.no_grad():
        assert (plain(-torch.ones_like(t), t) - plain(torch.ones_like(t), t)).abs().max() > 1e-4
    assert heat.boundary_gap(plain, t).item() > 1e-8
    assert heat.boundary_gap(heat.HeatPINN(width=8, depth=2), t).item() < 1e-10  # periodic: u and u_x


def test_stack_members_start_as_stand_alone_networks_and_keep_their_own_recipe():
    stack = heat.PINNStack([3, 7], width=8, depth=2, hard_initial=[True, False])
    torch.manual_seed(7)
    alone = heat.HeatPINN(width=8, depth=2, hard_initial=False)
    x, t = 2 * torch.rand(30, 1) - 1, torch.rand(30, 1)
    with torch.no_grad():
        torch.testing.assert_close(stack(x, t)[1], alone(x, t))
        torch.testing.assert_close(stack(x, t)[0], stack.member(0)(x, t))
        zero = torch.zeros_like(x)
        assert torch.equal(stack(x, zero)[0], heat.initial_condition(x))       # hard member: exact at t = 0
        assert not torch.allclose(stack(x, zero)[1], heat.initial_condition(x))  # soft member: not


def test_stack_losses_hold_the_terms_of_the_recipe():
    points = {"x": torch.rand(2, 16, 1), "t": torch.rand(2, 16, 1), "x0": torch.rand(2, 8, 1),
              "tb": torch.rand(2, 4, 1)}
    weight = torch.tensor([0.0, 10.0])
    soft = heat.stack_losses(heat.PINNStack([0, 0], periodic=False, hard_initial=False), points, weight)
    assert set(soft) == {"residual", "initial", "boundary", "total"}
    torch.testing.assert_close(soft["total"], soft["residual"] + weight * soft["initial"] + soft["boundary"])
    hard = heat.stack_losses(heat.PINNStack([0, 0]), points, weight)
    assert set(hard) == {"residual", "total"}


def test_lbfgs_members_solves_each_member_as_if_alone():
    A = torch.tensor([[[3.0, 1.0], [1.0, 2.0]], [[50.0, 0.0], [0.0, 0.5]], [[1.0, 0.0], [0.0, 1.0]]])
    b = torch.tensor([[1.0, -1.0], [2.0, 3.0], [0.5, 0.5]])

    def solve(members):
        theta = torch.zeros(len(members), 2, requires_grad=True)
        quadratic = lambda: (0.5 * torch.einsum("mi,mij,mj->m", theta, A[members], theta)  # noqa: E731
                             - (b[members] * theta).sum(1))
        heat.lbfgs_members(quadratic, [theta], evaluations=60)
        return theta.detach()

    together = solve([0, 1, 2])
    torch.testing.assert_close(together, torch.linalg.solve(A, b), atol=1e-4, rtol=1e-4)
    for m in range(3):
        torch.testing.assert_close(solve([m])[0], together[m], atol=1e-5, rtol=1e-5)


def test_lbfgs_members_minimises_a_non_convex_function_within_its_budget():
    theta = torch.tensor([[-1.2, 1.0], [0.5, -0.5]], requires_grad=True)
    calls = []

    def rosenbrock():
        calls.append(1)
        return (1 - theta[:, 0]) ** 2 + 100 * (theta[:, 1] - theta[:, 0] ** 2) ** 2

    heat.lbfgs_members(rosenbrock, [theta], evaluations=300)
    assert len(calls) <= 300
    torch.testing.assert_close(theta.detach(), torch.ones(2, 2), atol=1e-3, rtol=0)


SMALL = dict(budget=40, n_points=32, resample_every=10, width=8, depth=2, record_every=20)


def test_train_stack_is_seeded_and_its_arms_share_their_first_half():
    a = heat.train_stack([0, 1], **SMALL)
    b = heat.train_stack([0, 1], **SMALL)
    assert set(a) == set(heat.ARMS)
    for arm in heat.ARMS:
        np.testing.assert_array_equal(a[arm].rel_l2, b[arm].rel_l2)
    adam, switched = a["Adam"].history, a["Adam → L-BFGS"].history
    assert list(adam["evaluation"]) == [0, 20, 40] and list(switched["evaluation"]) == [0, 20, 40]
    np.testing.assert_array_equal(adam["rel_l2"][:2], switched["rel_l2"][:2])  # identical up to the switch
    assert not np.array_equal(adam["rel_l2"][2], switched["rel_l2"][2])
    assert a["Adam"].rel_l2.shape == a["Adam"].fresh_loss.shape == (2,)


def test_one_stack_holds_several_recipes_member_by_member():
    # seed 0 twice: points drawn once vs resampled; identical until the first redraw, different after
    runs = heat.train_stack([0, 0], resample=[False, True], arms=["Adam"], **SMALL)["Adam"]
    np.testing.assert_array_equal(runs.history["total"][0, 0], runs.history["total"][0, 1])
    assert runs.rel_l2[0] != runs.rel_l2[1]
    same = heat.train_stack([0, 0], resample=[False, False], arms=["Adam"], **SMALL)["Adam"]
    assert same.rel_l2[0] == same.rel_l2[1]
    # a soft member with weight 0 ignores the initial condition: it drifts from u0 more than with weight 100
    soft = heat.train_stack([0, 0], hard_initial=False, initial_weight=[0.0, 100.0], arms=["Adam"], **SMALL)["Adam"]
    assert soft.history["initial"][-1, 0] > soft.history["initial"][-1, 1]
    with pytest.raises(ValueError, match="unknown arms"):
        heat.train_stack([0], arms=["SGD"], **SMALL)


def test_predict_on_grid_is_one_row_per_time():
    x, t = heat.grid(11, 4)
    model = heat.HeatPINN()
    u = heat.predict_on_grid(model, x, t)
    assert u.shape == (4, 11) and u.dtype == np.float64
    np.testing.assert_allclose(u[0], heat.initial_condition(x), atol=1e-6)


# -- the explorer ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def explorer_inputs():
    x, t = heat.grid(101, 51)
    exact = heat.exact_on_grid(x, t)
    rng = np.random.default_rng(0)
    predictions = {"noisy": exact + 0.01 * rng.standard_normal(exact.shape),
                   "late drift": exact + 0.1 * t[:, None] * np.cos(np.pi * x)[None, :]}
    return x, t, exact, predictions


def test_moving_the_time_slider_redraws_and_reports_that_time(explorer_inputs):
    x, t, exact, predictions = explorer_inputs
    explorer = pinn_explorer(x, t, exact, predictions)
    before = explorer.image.value
    explorer.controls["t"].value = 0.9  # as a learner's slider would
    assert explorer.image.value != before
    row = int(np.argmin(np.abs(t - 0.9)))
    assert explorer.result["t"] == pytest.approx(t[row]) and explorer.result["index"] == row
    u, reference = predictions["late drift"][row], exact[row]
    assert explorer.result["rel_l2_t"] == pytest.approx(np.linalg.norm(u - reference) / np.linalg.norm(reference))
    assert explorer.result["max_error_t"] == pytest.approx(np.abs(u - reference).max())
    assert "late drift" in explorer.text.value and explorer.last_update_ms > 0


def test_choosing_another_model_changes_the_error_map(explorer_inputs):
    x, t, exact, predictions = explorer_inputs
    explorer = pinn_explorer(x, t, exact, predictions).set(t=0.0)
    drift = explorer.image.value
    assert explorer.result["rel_l2_t"] == pytest.approx(0.0, abs=1e-12)  # the drift starts at 0
    explorer.set(model="noisy")
    assert explorer.image.value != drift
    overall = np.linalg.norm(predictions["noisy"] - exact) / np.linalg.norm(exact)
    assert explorer.result["rel_l2"] == pytest.approx(overall)
    assert explorer.state == "model='noisy' t=0.0"


def test_time_snaps_to_the_grid_and_bad_shapes_are_refused(explorer_inputs):
    x, t, exact, predictions = explorer_inputs
    explorer = pinn_explorer(x, t, exact, predictions).set(t=0.5)
    assert explorer.result["t"] in t
    with pytest.raises(ValueError, match="shape"):
        pinn_explorer(x, t, exact, {"wrong": exact[:, :-1]})
