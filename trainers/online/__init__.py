"""The online algorithms: generation, rollouts, rewards and the algorithms that learn from them
(GRPO, online DPO, PPO, GKD, iterative SFT).
"""
